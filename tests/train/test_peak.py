"""The peak MFU divides by: measured robustly on the CPU, Composer's datasheet table on GPUs, and
MFU never above 1 (a step faster than the measured peak raises the peak)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings, strategies as st

from vlmkit.train import peak as peak_mod
from vlmkit.train.history import LossHistory
from vlmkit.train.peak import Peak, cpu_peak, datasheet_peak


def test_cpu_peak_is_best_of_runs_and_cached_per_thread_count(monkeypatch):
    readings = iter([10.0, 50.0, 30.0, 20.0, 40.0, 7.0, 9.0, 8.0])
    calls = []
    monkeypatch.setattr(peak_mod, "_CPU_PEAKS", {})
    monkeypatch.setattr(peak_mod, "matmul_flops", lambda *a, **k: calls.append(1) or next(readings))
    threads = torch.get_num_threads()
    first = cpu_peak(torch.float32, runs=5, n=1024)
    assert first.flops == 50.0 and "best of 5 runs" in first.source and f"{threads} thread" in first.source
    assert cpu_peak(torch.float32, runs=5, n=1024) is first and len(calls) == 5  # cached: no new measurement
    try:
        torch.set_num_threads(threads + 1)
        again = cpu_peak(torch.float32, runs=3, n=1024)  # a new thread count measures again
        assert again.flops == 9.0 and len(calls) == 8
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("rate, expected", [(66e9, 960), (2e9, 256), (1e15, 1024), (1e6, 128)])
def test_matmul_size_keeps_one_product_near_30_ms(monkeypatch, rate, expected):
    # fp32 at the slow end (66 GFLOP/s) -> ~1000; emulated bf16 (~2 GFLOP/s) -> a few hundred
    monkeypatch.setattr(peak_mod, "matmul_flops", lambda *a, **k: rate)
    assert peak_mod.matmul_size(torch.float32) == expected


def test_cpu_peak_measures_a_real_rate(monkeypatch):
    monkeypatch.setattr(peak_mod, "_CPU_PEAKS", {})
    p = cpu_peak(torch.float32, runs=2, n=128, seconds=0.01)
    assert p.flops > 1e8 and "float32 128x128 matmul" in p.source


@pytest.mark.parametrize("name, expected", [
    ("NVIDIA H100 80GB HBM3", 989e12),      # SXM
    ("NVIDIA H100 PCIe", 756.5e12),          # PCIe: the table tells them apart
    ("NVIDIA A100-SXM4-40GB", 312e12),
])
def test_datasheet_peak_uses_composers_table(monkeypatch, name, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: name)
    got = datasheet_peak(torch.bfloat16)
    assert got is not None and got.flops == pytest.approx(expected, rel=1e-3) and name in got.source


def test_datasheet_peak_without_gpu_is_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert datasheet_peak(torch.bfloat16) is None


class _Logger:
    def log_metrics(self, metrics):
        pass


def _step(history: LossHistory, flops: float, seconds: float, monkeypatch) -> dict:
    clock = iter([0.0, seconds])
    monkeypatch.setattr("vlmkit.train.history.time.perf_counter", lambda: next(clock))
    model = SimpleNamespace(flops_per_batch=lambda batch: flops)
    state = SimpleNamespace(
        batch={"input_ids": torch.zeros(1, 4, dtype=torch.long)}, model=model,
        timestamp=SimpleNamespace(batch=len(history.rows) + 1), total_loss_dict={"loss/train/total": 1.0},
        optimizers=[SimpleNamespace(param_groups=[{"lr": 1e-3}])],
    )
    history.before_train_batch(state, _Logger())
    history.after_dataloader(state, _Logger())
    history.batch_end(state, _Logger())
    return history.rows[-1]


@settings(max_examples=60, deadline=None)
@given(measured=st.floats(1.0, 1e3), steps=st.lists(st.tuples(st.floats(0.0, 1e4), st.floats(0.01, 10.0)), min_size=1, max_size=12))
def test_mfu_never_exceeds_one_and_follows_the_best_rate(tmp_path_factory, measured, steps):
    mp = pytest.MonkeyPatch()
    try:
        history = LossHistory(tmp_path_factory.mktemp("h") / "history.jsonl", "sft", Peak(measured, "test"))
        best = measured
        for flops, seconds in steps:
            row = _step(history, flops, seconds, mp)
            best = max(best, flops / seconds)
            assert 0.0 <= row["mfu"] <= 1.0
            assert row["mfu"] == pytest.approx(flops / seconds / best)
    finally:
        mp.undo()


def test_a_step_above_the_peak_warns_once(tmp_path, monkeypatch, caplog):
    history = LossHistory(tmp_path / "history.jsonl", "sft", Peak(100.0, "measured"))
    with caplog.at_level("WARNING", logger="vlmkit.train.history"):
        assert _step(history, 50.0, 1.0, monkeypatch)["mfu"] == pytest.approx(0.5)
        assert _step(history, 200.0, 1.0, monkeypatch)["mfu"] == pytest.approx(1.0)
        assert _step(history, 400.0, 1.0, monkeypatch)["mfu"] == pytest.approx(1.0)
        assert _step(history, 200.0, 1.0, monkeypatch)["mfu"] == pytest.approx(0.5)
    warnings = [r for r in caplog.records if "above the measured peak" in r.getMessage()]
    assert len(warnings) == 1 and "100" not in history.peak.source.split(";")[0]
    assert "measured peak was" in history.peak.source
