"""Conformance suite for :class:`~vlmkit.data.mixers.base.DataMixer` plugins."""

from __future__ import annotations

from typing import Any, ClassVar

from vlmkit.data.mixers.base import DataMixer
from vlmkit.testing.base import Conformance


class DataMixerConformance(Conformance):
    """Checks a mixer factory ``factory(**kwargs)``: one Streaming ``Stream`` per dataset in the
    mixture, pointing at that dataset, weighted in the mixture's order. Example::

        class TestMyMixer(DataMixerConformance):
            factory = TokenBalancedMixer
            registered_name = "token_balanced"
    """

    kind: ClassVar[str] = "mixers"
    mixtures: ClassVar[tuple[dict[str, float], ...]] = ({"a": 0.75, "b": 0.25}, {"a": 0.2, "b": 0.3, "c": 0.5}, {"c": 1.0})

    def make(self) -> DataMixer:
        return self.resolve_factory()(**self.kwargs)

    def datasets(self, root: Any) -> dict[str, Any]:
        from vlmkit.config import DatasetConfig

        return {n: DatasetConfig(kind="pairs", local=str(root / n)) for n in ("a", "b", "c")}

    def streams_by_dataset(self, mixture: dict[str, float], root: Any) -> dict[str, Any]:
        datasets = self.datasets(root)
        streams = self.make().streams(mixture, datasets)
        by_local = {s.local: s for s in streams}
        assert len(streams) == len(mixture), f"{len(streams)} streams for a mixture of {len(mixture)} datasets"
        missing = [n for n in mixture if datasets[n].local not in by_local]
        assert not missing, f"no stream reads datasets {missing}"
        return {n: by_local[datasets[n].local] for n in mixture}

    def test_is_a_mixer(self) -> None:
        assert isinstance(self.make(), DataMixer), "a mixer must subclass vlmkit.DataMixer"

    def test_one_stream_per_dataset(self, tmp_path) -> None:
        for mixture in self.mixtures:
            streams = self.streams_by_dataset(mixture, tmp_path)
            set_by = {n: [k for k in ("proportion", "repeat", "choose") if getattr(s, k, None) is not None] for n, s in streams.items()}
            assert all(len(v) == 1 for v in set_by.values()), f"each stream needs exactly one of proportion/repeat/choose: {set_by}"
            kinds = {v[0] for v in set_by.values()}
            assert len(kinds) == 1 or "proportion" not in kinds, f"Streaming cannot mix proportion with repeat/choose: {set_by}"

    def test_weights_keep_their_order(self, tmp_path) -> None:
        """A dataset with a larger mixture weight gets a larger stream weight."""
        for mixture in self.mixtures:
            streams = self.streams_by_dataset(mixture, tmp_path)

            def weight(n: str) -> float:
                s = streams[n]
                return next(float(getattr(s, k)) for k in ("proportion", "repeat", "choose") if getattr(s, k, None) is not None)

            order = sorted(mixture, key=mixture.__getitem__)
            weights = [weight(n) for n in order]
            assert weights == sorted(weights), f"mixture {mixture} gave stream weights {dict(zip(order, weights))}"
