"""The sample-kind interface: what one kind of MDS sample (``pairs``, ``interleaved``, ...) means.

A kind owns everything that differs between kinds: the per-dataset ``options`` it accepts, how a
record's ``content`` (see :mod:`vlmkit.data.schema`) renders to text with loss spans, how many
images a record carries on average (training plans), how many records are joined into one sample,
and which converter ``vlmkit convert KIND`` runs. Tokenization, image runs, truncation, packing and
joining itself are shared and live elsewhere.

Registered factories are :class:`SampleKind` subclasses, called with no arguments; the registered
name is the kind's name (the ``kind`` column of the shards and a dataset's ``kind:`` in a recipe).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from vlmkit.data.tokenize.context import RenderContext
from vlmkit.data.tokenize.core import Rendered


@dataclass(frozen=True)
class NoOptions:
    """Options of a kind that takes none."""


class SampleKind(ABC):
    """One kind of sample.

    ``Options``: a frozen dataclass of the dataset ``options:`` the kind accepts (validate values
    in ``__post_init__`` and raise ``ValueError`` naming the option); unknown keys are refused
    before it is called. ``carries_images``: whether samples hold images (a stage of kinds without
    images cannot train the vision path). ``converter``: ``"module:attr"`` of
    ``parse(record, fallback_id, images) -> Draft`` (see :mod:`vlmkit.data.convert`) for
    ``vlmkit convert``, or ``None`` when shards of this kind are written some other way.
    """

    Options: ClassVar[type] = NoOptions
    carries_images: ClassVar[bool] = True
    converter: ClassVar[str | None] = None

    @abstractmethod
    def render(self, content: Mapping[str, Any], num_images: int, ctx: RenderContext, opts: Any) -> Rendered:
        """``content`` of a sample with ``num_images`` images -> its text (``<image>`` markers in
        place), the loss spans and which image each marker stands for. Raise
        :class:`~vlmkit.data.tokenize.SampleError` for a malformed sample (counted and skipped)."""

    def max_images(self, opts: Any) -> int | None:
        """Images kept per sample by this dataset's options (an option named ``max_images``);
        ``None``: the recipe's ``data.max_images_per_sample``."""
        return getattr(opts, "max_images", None)

    def records_per_sample(self, opts: Any) -> int:
        """Consecutive records of a stream joined into one training sample (VILA joins pairs)."""
        return 1

    def images_per_record(self, opts: Any, cap: int) -> float:
        """Expected images per record when at most ``cap`` are kept (training-plan estimate)."""
        return float(min(1, cap)) if self.carries_images else 0.0
