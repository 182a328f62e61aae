"""Interleaved documents (MMC4): sentences joined by spaces, each image marker placed before its
matched sentence. VILA's rule: images with ``similarity < min_similarity`` are dropped, at most
``max_images`` are kept (later ones dropped with their markers); loss on text only, or with
``loss_after_first_image`` only on text that follows the first kept image.
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
    min_similarity: float = 0.0
    max_images: int | None = None
    loss_after_first_image: bool = False


class Interleaved(SampleKind):
    Options = Options
    converter = "vlmkit.data.convert.interleaved:parse"

    def render(self, content: Mapping[str, Any], num_images: int, ctx: RenderContext, opts: Options) -> Rendered:
        segments = content.get("segments")
        if not isinstance(segments, list) or not segments:
            raise SampleError("no_segments", "interleaved sample has no segments")
        parts, targets, order = [ctx.bos], [], []
        length, prev_text, seen_image = len(ctx.bos), False, False
        for seg in segments:
            if "image" in seg:
                index = seg["image"]
                if not isinstance(index, int) or not 0 <= index < num_images:
                    raise SampleError("image_marker_mismatch", f"segment names image {index!r} but the sample has {num_images} image(s)")
                if float(seg.get("similarity", 1.0)) < opts.min_similarity:
                    continue
                piece = (" " if prev_text else "") + IMAGE_MARKER
                order.append(index)
                seen_image, prev_text = True, False
            else:
                text = seg.get("text")
                if not isinstance(text, str):
                    raise SampleError("bad_segment", "interleaved segment is neither {'text': str} nor {'image': int}")
                if not text:
                    continue
                piece = (" " if prev_text else "") + text
                if seen_image or not opts.loss_after_first_image:
                    targets.append((length, length + len(piece)))
                prev_text = True
            parts.append(piece)
            length += len(piece)
        if targets:
            targets.append((length, length + len(ctx.eos)))
        parts.append(ctx.eos)
        return Rendered("".join(parts), tuple(targets), tuple(order))

    def images_per_record(self, opts: Options, cap: int) -> float:
        return float(min(cap if opts.max_images is None else opts.max_images, cap))
