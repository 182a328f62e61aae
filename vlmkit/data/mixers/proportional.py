"""``proportional``: each dataset gets its share of every epoch (Streaming ``proportion``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from vlmkit.data.mixers.base import DataMixer
from vlmkit.data.mixers.location import stream_location

if TYPE_CHECKING:
    from streaming import Stream

    from vlmkit.config import DatasetConfig


class ProportionalMixer(DataMixer):
    """``{name: p}`` -> one ``Stream(proportion=p)`` per dataset, in mixture order. An epoch holds
    as many samples as all streams together; a small stream is repeated to reach its share."""

    def streams(self, mixture: Mapping[str, float], datasets: Mapping[str, "DatasetConfig"]) -> list["Stream"]:
        from streaming import Stream

        return [Stream(proportion=float(p), **stream_location(datasets[name])) for name, p in mixture.items()]
