"""``repeat``: each dataset is read a whole number of times per epoch (Streaming ``repeat``).

Proportions are turned into repeat counts relative to the smallest: VILA's ``"mmc4+coyo*2"``
reads mmc4 once and coyo twice per epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from vlmkit.data.mixers.base import DataMixer
from vlmkit.data.mixers.location import stream_location

if TYPE_CHECKING:
    from streaming import Stream

    from vlmkit.config import DatasetConfig


class RepeatMixer(DataMixer):
    """``{name: p}`` -> one ``Stream(repeat=p / min(p))`` per dataset, in mixture order."""

    def streams(self, mixture: Mapping[str, float], datasets: Mapping[str, "DatasetConfig"]) -> list["Stream"]:
        from streaming import Stream

        smallest = min(mixture.values())
        return [Stream(repeat=float(p) / smallest, **stream_location(datasets[name])) for name, p in mixture.items()]
