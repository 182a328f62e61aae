"""What a conversion did: records read, samples written, records skipped by reason."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

REPORT_FILE = "conversion_report.json"
EXAMPLES_PER_REASON = 3

# Stable reason names (image reasons come from vlmkit.data.images.REASONS).
RECORD_REASONS = {
    "bad_json": "a line or file that is not valid JSON",
    "not_an_object": "a record that is not a JSON object",
    "missing_field": "a required field is absent",
    "wrong_type": "a field has the wrong type",
    "bad_unicode": "text that cannot be encoded as UTF-8 (lone surrogates)",
    "empty_text": "a caption, text or document with no text",
    "empty_conversation": "a conversation with no turns",
    "bad_role": "a turn whose speaker is not human/user, gpt/assistant or system",
    "no_assistant_turn": "a conversation with nothing to learn from",
    "marker_mismatch": "the number of <image> markers differs from the number of images",
    "bad_index": "an image matched to a sentence that does not exist",
    "missing_image": "an image file that does not exist under the image root",
    "unsafe_path": "an image path that leaves the image root",
    "unreadable_image": "an image file that exists but cannot be read",
    "bad_base64": "an embedded image that is not valid base64",
    "unexpected_image": "a text-only record that names images",
    "corrupt_input": "an input file (tar, parquet) that cannot be read from this point on",
    "truncated_json": "a JSON array that breaks off: the complete records before the cut are kept, the rest is unreadable",
    "member_too_large": "a tar member declaring more than the size limit (refused from its header, never read)",
}


class SkipRecord(Exception):
    """Raised while parsing a record that must be skipped; ``reason`` is a stable name."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class ConversionReport:
    """Counts of one conversion; ``records_read == samples_written + sum(skipped.values())``."""

    kind: str
    inputs: list[str]
    out: str
    records_read: int = 0
    samples_written: int = 0
    images_written: int = 0
    max_image_side: int | None = None  # the --max-image-side option (None: images kept at their size)
    images_downscaled: int = 0  # of images_written, those stored smaller than their original
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    empty_inputs: list[str] = field(default_factory=list)  # input files that held no record
    seconds: float = 0.0

    def skip(self, reason: str, record_id: str, detail: str = "") -> None:
        self.skipped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < EXAMPLES_PER_REASON:
            shown.append(f"{record_id}: {detail}" if detail else record_id)

    @property
    def records_skipped(self) -> int:
        return sum(self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inputs": self.inputs,
            "out": self.out,
            "records_read": self.records_read,
            "samples_written": self.samples_written,
            "images_written": self.images_written,
            "max_image_side": self.max_image_side,
            "images_downscaled": self.images_downscaled,
            "records_skipped": self.records_skipped,
            "skipped": dict(sorted(self.skipped.items())),
            "examples": {k: self.examples[k] for k in sorted(self.examples)},
            "empty_inputs": self.empty_inputs,
            "seconds": round(self.seconds, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def summary(self) -> str:
        """Human-readable lines: totals, then one line per skip reason with an example."""
        downscaled = f", {self.images_downscaled} downscaled to <= {self.max_image_side}px" if self.max_image_side else ""
        lines = [
            f"{self.kind}: read {self.records_read} records, wrote {self.samples_written} samples "
            f"({self.images_written} images{downscaled}) to {self.out} in {self.seconds:.1f}s",
        ]
        if self.skipped:
            lines.append(f"skipped {self.records_skipped} records:")
            for reason, count in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
                example = self.examples.get(reason, [""])[0]
                lines.append(f"  {reason:<20} {count:>8}   e.g. {example}")
        else:
            lines.append("skipped 0 records")
        if self.empty_inputs:
            lines.append(f"{len(self.empty_inputs)} input files held no records: {', '.join(self.empty_inputs)}")
        return "\n".join(lines)
