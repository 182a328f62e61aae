"""The training data loader: a stage's mixture of MDS streams -> packed batches per the batch
contract of :mod:`vlmkit.model.splice`.

``build_dataloader(recipe, stage, model, batch_size)`` resolves the stage's datasets, asks the
stage's registered mixer for Streaming ``Stream``s, and returns a :class:`VLMDataLoader` over a
:class:`VLMStreamingDataset`. ``batch_size`` counts *samples* (records) per device batch; they
are packed into as many ``max_seq_len`` rows as they need, so a batch always consumes the same
number of records for a given seed, and resuming mid-epoch is exact.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import torch
from streaming import StreamingDataLoader, StreamingDataset
from streaming.base.world import World
from torch.utils.data import DataLoader

from vlmkit.data.collate import STATS_KEY, VLMCollator
from vlmkit.data.images import ImageError, open_image
from vlmkit.data.schema import unpack_images
from vlmkit.data.tokenize import SampleEncoder, SampleError
from vlmkit.model.splice import IGNORE_INDEX

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSpec:
    """How one stream's records become tokens: its sample kind and tokenization options."""

    name: str
    kind: str
    options: Mapping[str, Any]


class VLMStreamingDataset(StreamingDataset):
    """A ``StreamingDataset`` whose items are tokenized samples, ready for :class:`VLMCollator`.

    ``specs[i]`` describes ``streams[i]``; ``encoder`` tokenizes; ``image_transform`` turns a PIL
    image into ``[3, H, W]``. A record that cannot be used becomes ``{"skipped": reason}``
    (counted by the loader, never raised). ``**kwargs`` go to ``StreamingDataset``.
    """

    def __init__(self, *, streams, specs: Sequence[StreamSpec], encoder: SampleEncoder, image_transform, **kwargs):
        super().__init__(streams=streams, **kwargs)
        if len(specs) != len(streams):
            raise ValueError(f"{len(specs)} stream specs for {len(streams)} streams")
        self.specs = list(specs)
        self.encoder = encoder
        self.image_transform = image_transform
        self._options = [_parse_options(encoder, s) for s in self.specs]
        self.consumed = 0  # records consumed this run and epoch, kept by the loader (main process)

    def get_item(self, sample_id: int, retry: int = 7) -> dict[str, Any]:
        stream = int(self.stream_per_shard[self.spanner[sample_id][0]])
        try:
            record = super().get_item(sample_id, retry)
        except (ValueError, UnicodeDecodeError) as exc:  # a corrupt entry; missing shards still raise
            log.debug("record %d unreadable: %r", sample_id, exc)
            return {"skipped": "unreadable_record"}
        return self.process(record, stream)

    def process(self, record: Mapping[str, Any], stream: int) -> dict[str, Any]:
        """One MDS record (schema columns) of stream ``stream`` -> a tokenized item or a skip."""
        spec = self.specs[stream]
        if record.get("kind") != spec.kind:
            return {"skipped": "wrong_kind"}
        try:
            blobs = unpack_images(record.get("images") or b"\0\0\0\0")
        except ValueError:
            return {"skipped": "bad_images_column"}
        try:
            images = [decode_for(b, self.image_transform) for b in blobs]
        except ImageError as exc:
            return {"skipped": exc.reason}
        try:
            sample = self.encoder.encode(spec.kind, record["content"], images, self._options[stream])
        except SampleError as exc:
            return {"skipped": exc.reason}
        except (ValueError, KeyError, TypeError, AttributeError):  # content of the wrong shape
            return {"skipped": f"bad_{spec.kind}_record"}
        labels = sample["labels"]
        if labels.count(IGNORE_INDEX) == len(labels):
            return {"skipped": "no_target_tokens"}
        size = self.image_transform.size
        pixels = [self.image_transform(im) for im in sample["images"]]
        join = self.encoder.kind(spec.kind).records_per_sample(self._options[stream])
        return {
            "input_ids": sample["input_ids"],
            "labels": labels,
            "pixel_values": _stacked(pixels, size),
            "join": (stream, join),
        }

    def state_dict(self, num_samples: int, from_beginning: bool) -> dict[str, Any]:
        """Streaming's resume state, counting *records* consumed (``self.consumed`` on every rank).

        The trainer's sample count is ignored: with packing it counts rows, not records.
        """
        return super().state_dict(self.consumed * World.detect().num_ranks, False)


def decode_for(data: bytes, transform) -> "Image.Image":
    """Decode checked image bytes to RGB for ``transform`` (an ImageTransform). A JPEG is decoded
    straight at the smallest DCT scale (1/2, 1/4, 1/8, Pillow's draft mode) that still gives the
    transform at least the pixels it keeps, so large photos cost a fraction of a full decode."""
    image = open_image(data)
    if image.format == "JPEG":
        w, h, size = image.width, image.height, transform.size
        scale = size / max(w, h) if transform.resize == "pad" else None
        image.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)) if scale else (size, size))
    try:
        image.load()
    except Exception as exc:  # hostile bytes raise all sorts of errors inside Pillow
        raise ImageError("undecodable_image", f"{type(exc).__name__}: {exc}") from None
    return image if image.mode == "RGB" else image.convert("RGB")


def _stacked(pixels: list[torch.Tensor], size: int) -> torch.Tensor:
    """``[n, 3, size, size]``; one image is a view, not a copy (the collator copies it once)."""
    if len(pixels) == 1:
        return pixels[0].unsqueeze(0)
    return torch.stack(pixels) if pixels else torch.zeros(0, 3, size, size)


def _parse_options(encoder: SampleEncoder, spec: StreamSpec) -> Any:
    try:
        return encoder.options(spec.kind, spec.options)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"datasets.{spec.name}.options: {exc}") from None


class VLMDataLoader(StreamingDataLoader):
    """A ``StreamingDataLoader`` that removes each batch's :class:`BatchStats`, keeps totals in
    ``records``, ``skipped`` (reason -> count), ``rows``, ``tokens`` and ``padded_tokens``, and
    counts consumed records for resumption."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.records = 0
        self.skipped: Counter = Counter()
        self.rows = self.tokens = self.padded_tokens = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.num_samples_yielded = 0
        self.dataset.consumed = 0
        for batch in DataLoader.__iter__(self):
            stats = batch.pop(STATS_KEY)
            self.num_samples_yielded += stats.samples
            self.dataset.consumed += stats.samples
            self.records += stats.samples
            self.rows += stats.rows
            self.tokens += stats.tokens
            self.padded_tokens += stats.padded_tokens
            if stats.skipped:
                self.skipped.update(stats.skipped)
                log.warning("skipped %d unusable record(s) in this batch: %s (so far: %s)",
                            sum(stats.skipped.values()), dict(stats.skipped), dict(self.skipped))
            yield batch

    @property
    def non_padding_fraction(self) -> float:
        """Real tokens / all positions over the batches yielded so far."""
        return self.tokens / max(1, self.padded_tokens)


def build_dataloader(recipe, stage_name: str, model, batch_size: int, *, split: str | None = None) -> VLMDataLoader:
    """The data loader of stage ``stage_name`` of ``recipe`` for ``model`` (a VisionLanguageModel).

    ``batch_size``: records per device batch; ``split``: overrides every dataset's ``split``.
    Yields ``input_ids``, ``labels``, ``attention_mask``, ``position_ids`` ``[rows, L]`` and
    ``pixel_values [N, 3, H, W]`` (see :mod:`vlmkit.model.splice`).
    """
    from vlmkit.config import parse_mixture
    from vlmkit.data.datasets import resolve_dataset
    from vlmkit.registry import registries

    if stage_name not in recipe.stages:
        raise LookupError(f"no stage {stage_name!r} in the recipe; stages: {', '.join(recipe.stages)}")
    stage = recipe.stages[stage_name]
    mixture = parse_mixture(stage.mixture, recipe.datasets)
    datasets = {}
    for name in mixture:
        cfg = resolve_dataset(recipe.datasets[name])
        datasets[name] = cfg.model_copy(update={"split": split}) if split is not None else cfg
    streams = registries().mixers.get(stage.mixer)().streams(mixture, datasets)
    specs = [StreamSpec(name, datasets[name].kind, datasets[name].options) for name in mixture]
    max_len = recipe.stage_max_seq_len(stage_name)
    encoder = SampleEncoder.for_model(
        model, recipe.model.chat_template, max_seq_len=max_len, max_images=recipe.data.max_images_per_sample
    )
    dataset = VLMStreamingDataset(
        streams=streams, specs=specs, encoder=encoder, image_transform=model.image_transform,
        batch_size=batch_size, shuffle=recipe.data.shuffle, shuffle_seed=recipe.data.shuffle_seed,
    )
    tokenizer = model.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    collator = VLMCollator(
        max_seq_len=max_len, pad_token_id=int(pad or 0), image_size=model.image_transform.size,
        image_token_id=model.image_token_id, num_image_tokens=model.num_image_tokens,
        packing=recipe.data.packing, bos_ids=encoder.bos_ids,
    )
    workers = recipe.data.num_workers
    return VLMDataLoader(
        dataset, batch_size=batch_size, collate_fn=collator, num_workers=workers,
        persistent_workers=workers > 0, drop_last=False,
    )
