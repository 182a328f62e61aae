"""Optimizers, schedulers, loggers, callbacks, export formats and model sources are registry kinds:
a plugin adds each with one register line, recipes accept the names (and refuse unknown ones in
one line), a stage trains with them, `vlmkit export` writes the format, `vlmkit plugins list`
shows them, and the old module-level tables still answer with a DeprecationWarning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from composer.core import Callback

import vlmkit.registry as reg
from vlmkit.config import RecipeError, validate_recipe
from vlmkit.eval.loading import LoadedModel, ModelSource, load_model
from vlmkit.testing.synthetic import synthetic_factory
from vlmkit.train.loggers import ComposerClass
from vlmkit.train.stages import run_recipe
from train_helpers import recipe_dict, stage, write_recipe

CALLS: list[str] = []


def acme_sgd(groups, cfg, device):
    CALLS.append("optimizer")
    return torch.optim.SGD(groups, lr=cfg.lr)


def acme_flat(cfg):
    CALLS.append("scheduler")
    return lambda state, ssr=1.0: 1.0


class CountBatches(Callback):
    def __init__(self, stage_dir):
        self.stage_dir, self.batches = Path(stage_dir), 0

    def batch_end(self, state, logger):
        self.batches += 1
        (self.stage_dir / "acme_batches.txt").write_text(str(self.batches))


def acme_format(model, model_config, out, overwrite=False, source=None):
    Path(out).mkdir(parents=True, exist_ok=overwrite)
    (Path(out) / "acme.json").write_text(json.dumps({"params": sum(p.numel() for p in model.parameters()), "source": source}))
    return Path(out)


class AcmeSource(ModelSource):
    description = "an .acme file naming a recipe"

    def matches(self, path):
        return path.suffix == ".acme"

    def load(self, path, overrides, stage):
        return LoadedModel(torch.nn.Linear(2, 2), name=path.read_text().strip())


class Acme:
    @staticmethod
    @reg.hookimpl
    def vlmkit_register(registry):
        registry.optimizers.register("acme_sgd", acme_sgd, description="plain SGD")
        registry.schedulers.register("acme_flat", acme_flat, description="the peak lr throughout")
        registry.loggers.register("acme_memory", ComposerClass("composer.loggers:InMemoryLogger"), description="metrics kept in memory")
        registry.callbacks.register("acme_count", CountBatches, description="counts batches into the stage folder")
        registry.export_formats.register("acme_fmt", acme_format, description="a parameter count")
        registry.model_sources.register("acme_src", AcmeSource, description=AcmeSource.description)


@pytest.fixture(scope="module")
def acme():
    reg.reset(extra=[Acme])
    yield
    reg.reset()


def acme_stage(**extra) -> dict:
    return stage(["projector"], batches=2, batch=4, **{"optimizer": {"name": "acme_sgd", "lr": 1e-2},
                                                        "scheduler": {"name": "acme_flat", "warmup": "0ba"}, **extra})


def test_a_stage_trains_and_exports_with_a_plugins_kinds(acme, tmp_path):
    data = recipe_dict(tmp_path / "run", stages={"s": acme_stage()}, loggers={"acme_memory": {}}, callbacks={"acme_count": {}})
    path = write_recipe(tmp_path / "acme.yaml", data)
    CALLS.clear()
    run_recipe(validate_recipe(data), dataloader_factory=synthetic_factory(num_rows=16))
    assert CALLS == ["optimizer", "scheduler"]
    assert (tmp_path / "run" / "s" / "acme_batches.txt").read_text() == "2"

    from vlmkit.cli import main

    assert main(["export", str(path), str(tmp_path / "out"), "--format", "acme_fmt"]) == 0
    written = json.loads((tmp_path / "out" / "acme.json").read_text())
    assert written["params"] > 0 and written["source"]["recipe"] == "tiny-test"


def test_a_plugins_model_source_is_tried_before_the_builtins(acme, tmp_path):
    (tmp_path / "m.acme").write_text("acme-model\n")
    assert load_model(tmp_path / "m.acme", device="cpu").name == "acme-model"
    with pytest.raises(FileNotFoundError, match="an .acme file naming a recipe; a folder written by"):
        load_model(tmp_path / "missing.bin", device="cpu")


@pytest.mark.parametrize("key, value, message", [
    ("optimizer", {"name": "adamx", "lr": 1e-3}, "stages.s.optimizer.name: unknown optimizer 'adamx'; did you mean 'adamw'?"),
    ("scheduler", {"name": "cosine"}, "stages.s.scheduler.name: unknown scheduler 'cosine'; did you mean 'cosine_with_warmup'?"),
    ("loggers", {"tensorbord": {}}, "trainer.loggers: unknown logger 'tensorbord'; did you mean 'tensorboard'?"),
    ("callbacks", {"nan_monitr": {}}, "trainer.callbacks: unknown callback 'nan_monitr'; did you mean 'nan_monitor'?"),
])
def test_a_recipe_refuses_an_unknown_name_in_one_line(tmp_path, key, value, message):
    data = recipe_dict(tmp_path, stages={"s": stage(["projector"])})
    (data["stages"]["s"] if key in ("optimizer", "scheduler") else data["trainer"])[key] = value
    with pytest.raises(RecipeError) as err:
        validate_recipe(data)
    (line,) = [line for line in str(err.value).splitlines() if "unknown" in line]
    assert message in line


def test_an_unknown_export_format_is_one_line(tmp_path):
    from vlmkit.export.api import export

    with pytest.raises(ValueError, match="unknown export format 'llava_hf'; did you mean 'llava-hf'?"):
        export(str(tmp_path / "r.yaml"), tmp_path / "out", format="llava_hf")


def test_plugins_list_shows_the_new_kinds(acme, capsys):
    from vlmkit.cli import main

    assert main(["plugins", "list", "--json"]) == 0
    components = json.loads(capsys.readouterr().out)["components"]
    names = {kind: {e["name"] for e in entries} for kind, entries in components.items()}
    assert {"adamw", "acme_sgd"} <= names["optimizers"] and {"cosine_with_warmup", "acme_flat"} <= names["schedulers"]
    assert {"file", "acme_memory"} <= names["loggers"] and {"nan_monitor", "acme_count"} <= names["callbacks"]
    assert {"vlmkit", "llava-hf", "acme_fmt"} <= names["export_formats"]
    assert {"recipe", "exported", "acme_src"} <= names["model_sources"]


@pytest.mark.parametrize("module, name, new", [
    ("vlmkit.train.optim", "OPTIMIZERS", "registries().optimizers"),
    ("vlmkit.train.optim", "SCHEDULERS", "registries().schedulers"),
    ("vlmkit.train.optim", "STATE_TENSORS", "state_tensors(cfg)"),
    ("vlmkit.train.loggers", "LOGGERS", "registries().loggers"),
    ("vlmkit.eval.loading", "SOURCES", "model_sources()"),
])
def test_old_tables_still_answer_with_a_deprecation_naming_the_new_home(module, name, new):
    import importlib

    with pytest.warns(DeprecationWarning, match=f"{name} is deprecated.*{new.replace('(', '[(]').replace(')', '[)]')}"):
        table = getattr(importlib.import_module(module), name)
    assert len(table) >= 2
    if name == "STATE_TENSORS":
        assert {n: table[n] for n in ("adamw", "decoupled_adamw", "decoupled_sgdw")} == {"adamw": 2, "decoupled_adamw": 2, "decoupled_sgdw": 1}


def test_register_model_source_still_works_with_a_deprecation(tmp_path):
    from vlmkit.eval import loading

    with pytest.warns(DeprecationWarning, match="registry.model_sources.register"):
        loading.register_model_source(AcmeSource())
    try:
        (tmp_path / "m.acme").write_text("legacy\n")
        assert load_model(tmp_path / "m.acme", device="cpu").name == "legacy"
    finally:
        loading._LEGACY.clear()
