"""Image-caption pairs: ``<bos><image>\\ncaption<eos>``, loss on the caption and EOS.

``pairs_per_sample`` (VILA: 4 for COYO) is applied when batching: that many consecutive pairs are
joined into one sample (see :func:`vlmkit.data.tokenize.join_samples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from vlmkit.data.kinds.base import SampleKind
from vlmkit.data.schema import IMAGE_MARKER
from vlmkit.data.tokenize.context import RenderContext, SampleError
from vlmkit.data.tokenize.core import Rendered


@dataclass(frozen=True)
class Options:
    pairs_per_sample: int = 1
    max_images: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.pairs_per_sample, int) or self.pairs_per_sample < 1:
            raise ValueError(f"pairs_per_sample must be a positive integer, got {self.pairs_per_sample!r}")


class Pairs(SampleKind):
    Options = Options
    converter = "vlmkit.data.convert.pairs:parse"

    def render(self, content: Mapping[str, Any], num_images: int, ctx: RenderContext, opts: Options) -> Rendered:
        caption = content.get("caption")
        if not isinstance(caption, str) or not caption.strip():
            raise SampleError("no_caption", "pairs sample has no caption text")
        if num_images != 1:
            raise SampleError("image_marker_mismatch", f"a pairs sample needs exactly one image, got {num_images}")
        head = f"{ctx.bos}{IMAGE_MARKER}\n"
        text = head + caption + ctx.eos
        return Rendered(text, ((len(head), len(text)),), (0,))

    def records_per_sample(self, opts: Options) -> int:
        return opts.pairs_per_sample

    def images_per_record(self, opts: Options, cap: int) -> float:
        return float(min(opts.pairs_per_sample, cap))
