"""The data-mixer interface: named datasets and weights to MosaicML Streaming streams."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from streaming import Stream

    from vlmkit.config import DatasetConfig


class DataMixer(ABC):
    """Turns ``{dataset_name: weight}`` into Streaming ``Stream`` objects.

    ``streams(mixture, datasets)``: ``mixture`` maps dataset names to normalised proportions
    (summing to 1); ``datasets`` maps names to their resolved :class:`~vlmkit.config.DatasetConfig`.
    Returns one ``Stream`` per dataset with ``proportion``, ``repeat`` or ``choose`` set.
    """

    @abstractmethod
    def streams(self, mixture: Mapping[str, float], datasets: Mapping[str, "DatasetConfig"]) -> list["Stream"]:
        """One Streaming ``Stream`` per dataset in ``mixture``."""
