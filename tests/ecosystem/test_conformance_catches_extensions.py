"""The optimizer, scheduler, logger, callback and export-format suites fail on broken factories:
each check catches the fault it exists for."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vlmkit.testing import CallbackConformance, ExportFormatConformance, LoggerConformance, OptimizerConformance, SchedulerConformance


def suite(base, factory, name, **attrs):
    return type("Suite", (base,), {"factory": staticmethod(factory), "registered_name": name, **attrs})()


def one_group(groups, cfg, device):  # drops the per-group learning rates
    return torch.optim.SGD([p for g in groups for p in g["params"]], lr=cfg.lr)


def frozen_lr(groups, cfg, device):
    return torch.optim.SGD([{**g, "lr": 0.0} for g in groups], lr=0.0)


class RowFactored(torch.optim.SGD):
    """Keeps a per-row statistic, which vlmkit plan cannot count as whole tensors."""

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.dim() == 2:
                    self.state[p]["row"] = p.grad.square().mean(1)
        return super().step(closure)


class HiddenMomentum(torch.optim.Optimizer):
    """Momentum kept outside ``state``, so a state dict loses it."""

    def __init__(self, groups):
        super().__init__(groups, {"lr": 1e-2})
        self.velocity: dict[int, torch.Tensor] = {}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                v = self.velocity.setdefault(id(p), torch.zeros_like(p)).mul_(0.9).add_(p.grad)
                p.sub_(group["lr"] * v)


@pytest.mark.parametrize("factory, check, message", [
    (lambda groups, cfg, device: object(), "test_is_an_optimizer_over_the_groups", "not a torch.optim.Optimizer"),
    (one_group, "test_is_an_optimizer_over_the_groups", "each with its own 'lr'"),
    (frozen_lr, "test_steps_move_only_the_grouped_parameters", "did not move"),
    (lambda groups, cfg, device: RowFactored(groups, lr=cfg.lr), "test_state_is_what_plan_counts", "neither full-size nor a scalar"),
    (lambda groups, cfg, device: HiddenMomentum(groups), "test_state_dict_resumes_exactly", "differs after resuming"),
])
def test_optimizer_suite_catches(factory, check, message):
    with pytest.raises(AssertionError, match=message):
        getattr(suite(OptimizerConformance, factory, "adamw"), check)()


def test_optimizer_suite_passes_plain_sgd_with_groups():
    s = suite(OptimizerConformance, lambda groups, cfg, device: torch.optim.SGD(groups, lr=cfg.lr), "decoupled_sgdw", options={"betas": (0.0, 0.9)})
    s.test_is_an_optimizer_over_the_groups()
    s.test_steps_move_only_the_grouped_parameters()
    s.test_state_is_what_plan_counts()  # no momentum: nothing counted, nothing kept


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, state, ssr=1.0):
        self.calls += 1
        return 1.0 / self.calls


@pytest.mark.parametrize("factory, check, message", [
    (lambda cfg: (lambda state, ssr=1.0: math.nan), "test_multiplier_is_finite_and_non_negative", "finite and >= 0"),
    (lambda cfg: (lambda state, ssr=1.0: -0.5), "test_multiplier_is_finite_and_non_negative", "finite and >= 0"),
    (lambda cfg: Counting(), "test_multiplier_depends_only_on_the_time", "function of the time alone"),
])
def test_scheduler_suite_catches(factory, check, message):
    with pytest.raises(AssertionError, match=message):
        getattr(suite(SchedulerConformance, factory, "cosine_with_warmup"), check)()


def failing_logger(stage_dir):
    from composer.loggers import LoggerDestination

    class Failing(LoggerDestination):
        def log_metrics(self, metrics, step=None):
            raise RuntimeError("the tracking server is down")

    return Failing()


def test_logger_and_callback_suites_catch(tmp_path):
    with pytest.raises(AssertionError, match="not a composer.loggers.LoggerDestination"):
        suite(LoggerConformance, lambda stage_dir: object(), "console").test_is_the_composer_type(tmp_path)
    with pytest.raises(RuntimeError, match="tracking server is down"):
        suite(LoggerConformance, failing_logger, "console").test_survives_a_short_fit(tmp_path)
    from composer.loggers import ConsoleLogger

    with pytest.raises(AssertionError, match="not a composer.core.Callback"):
        suite(CallbackConformance, lambda stage_dir: ConsoleLogger().log_metrics, "nan_monitor").test_is_the_composer_type(tmp_path)


def empty_folder(model, config, out, overwrite=False, source=None):
    Path(out).mkdir(parents=True, exist_ok=True)
    return Path(out)


def beside(model, config, out, overwrite=False, source=None):
    from vlmkit.export.vlmkit_format import export_vlmkit

    return export_vlmkit(model, config, Path(out).with_name("elsewhere"), overwrite=True, source=source)


def adds_to_existing(model, config, out, overwrite=False, source=None):
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "weights.bin").write_bytes(b"\0" * 8)
    return Path(out)


def perturbed(model, config, out, overwrite=False, source=None):  # writes other weights than the model's
    import copy

    from vlmkit.export.vlmkit_format import export_vlmkit

    changed = copy.deepcopy(model)
    with torch.no_grad():
        for p in changed.projector.parameters():
            p.add_(torch.randn_like(p))
    return export_vlmkit(changed, config, out, overwrite=overwrite, source=source)


@pytest.mark.parametrize("factory, check, message", [
    (empty_folder, "test_writes_the_folder_it_returns", "holds no written file"),
    (beside, "test_writes_the_folder_it_returns", "not the folder it was given"),
    (adds_to_existing, "test_refuses_an_existing_folder_unless_overwrite", "without overwrite=True"),
    (perturbed, "test_reloads_to_the_same_logits", "Tensor-likes are not close"),
])
def test_export_format_suite_catches(tmp_path, factory, check, message):
    with pytest.raises(AssertionError, match=message):
        getattr(suite(ExportFormatConformance, factory, "vlmkit"), check)(tmp_path)
