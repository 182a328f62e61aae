"""Conformance suites for logger and callback plugins (contract: :mod:`vlmkit.train.loggers`):
``factory(stage_dir, **options)`` returns a Composer ``LoggerDestination`` or ``Callback`` that
survives a short Composer fit on the CPU and round-trips its state dict (checkpoints carry it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from vlmkit.testing.base import Conformance, seeded


def short_fit(stage_dir: Path, *, loggers: list = (), callbacks: list = (), batches: int = 3) -> Any:
    """A ``batches``-batch Composer fit of a tiny classifier on the CPU; returns the trainer."""
    from composer import Trainer
    from composer.models import ComposerClassifier
    from torch.utils.data import DataLoader, TensorDataset

    data = seeded(0, lambda: TensorDataset(torch.randn(4 * batches, 4), torch.randint(0, 2, (4 * batches,))))
    model = seeded(0, lambda: ComposerClassifier(nn.Linear(4, 2), num_classes=2))
    trainer = Trainer(model=model, train_dataloader=DataLoader(data, batch_size=4), max_duration=f"{batches}ba",
                      optimizers=torch.optim.SGD(model.parameters(), lr=0.1), device="cpu", loggers=list(loggers),
                      callbacks=list(callbacks), save_folder=None, progress_bar=False, log_to_console=False,
                      run_name="conformance")
    trainer.fit()
    trainer.close()
    return trainer


class _StageCallbackConformance(Conformance):
    """What loggers and callbacks share: built as ``factory(stage_dir, **kwargs)``, an instance of
    ``interface``, through a short fit, with a state dict that loads back."""

    interface: ClassVar[str] = ""

    def make(self, stage_dir: Path) -> Any:
        return self.resolve_factory()(stage_dir, **dict(self.kwargs))

    def attach(self, made: Any) -> dict[str, list]:
        raise NotImplementedError

    def test_is_the_composer_type(self, tmp_path) -> None:
        from vlmkit.registry import resolve_import_string

        cls = resolve_import_string(self.interface)
        made = self.make(tmp_path)
        assert isinstance(made, cls), f"the factory returned {type(made).__name__}, not a {self.interface.replace(':', '.')}"

    def test_survives_a_short_fit(self, tmp_path) -> None:
        trainer = short_fit(tmp_path, **self.attach(self.make(tmp_path)))
        assert int(trainer.state.timestamp.batch) == 3

    def test_state_dict_loads_back(self, tmp_path) -> None:
        made = self.make(tmp_path)
        state = made.state_dict()
        assert isinstance(state, dict), f"state_dict() returned {type(state).__name__}, not a dict"
        self.make(tmp_path).load_state_dict(state)


class LoggerConformance(_StageCallbackConformance):
    """Checks a logger factory. Example::

        class TestMyLogger(LoggerConformance):
            factory = "acme_logger"
            kwargs = {"project": "test"}
    """

    kind: ClassVar[str] = "loggers"
    interface: ClassVar[str] = "composer.loggers:LoggerDestination"

    def attach(self, made: Any) -> dict[str, list]:
        return {"loggers": [made]}


class CallbackConformance(_StageCallbackConformance):
    """Checks a callback factory (``trainer.callbacks``). Example::

        class TestMyCallback(CallbackConformance):
            factory = "acme_stopper"
    """

    kind: ClassVar[str] = "callbacks"
    interface: ClassVar[str] = "composer.core:Callback"

    def attach(self, made: Any) -> dict[str, list]:
        return {"callbacks": [made]}
