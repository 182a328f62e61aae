"""Duration forecasts: a stage's remaining steps (progress bar) and the demo's total."""

import pytest

from vlmkit.experiments.forecast import achieved_rate, expected_seconds, forecast_message
from vlmkit.train.progress import forecast_line, minutes


def test_stage_forecast_line_names_the_timed_steps_and_the_time_left():
    assert forecast_line("sft", 5.8, 4, 120) == "sft: 5.80 s/step over steps 2-4; about 11.2 min for the 116 steps left"
    assert forecast_line("align", 2.0, 4, 10) == "align: 2.00 s/step over steps 2-4; about 12 s for the 6 steps left"
    assert forecast_line("x", 1.0, 4, None) == "x: 1.00 s/step over steps 2-4"
    assert minutes(119) == "119 s" and minutes(150) == "2.5 min"


def test_achieved_rate_leaves_out_first_steps_and_rows_without_flops():
    rows = [
        {"step": 1, "flops": 1e12, "seconds": 100.0},  # the first step also builds and warms up
        {"step": 2, "flops": 4e9, "seconds": 2.0},
        {"step": 3, "flops": 2e9, "seconds": 1.0},
        {"step": 4, "seconds": 5.0},  # a model that counts no FLOPs
        {"step": 1, "flops": 9e12, "seconds": 50.0},
        {"step": 2, "flops": 6e9, "seconds": 3.0},
    ]
    assert achieved_rate(rows) == pytest.approx(12e9 / 6.0)
    assert achieved_rate([{"step": 1, "flops": 1.0, "seconds": 1.0}]) is None


def test_demo_forecast_adds_training_left_and_evaluation_and_says_when_it_runs_long():
    total = expected_seconds(elapsed=300.0, flops_left=60e9 * 400, rate=60e9, eval_seconds=100.0)
    assert total == pytest.approx(800.0)
    short = forecast_message(total, 60e9, 90e9)
    assert short.startswith("demo: expected about 13.3 min in all on this machine")
    assert "training at 60.0 GFLOP/s so far, fp32 matmul 90.0 GFLOP/s" in short and "within the 20-minute budget" in short
    long = forecast_message(1500.0, 30e9, None)
    assert "longer than the 20-minute budget" in long and "matmul" not in long
