"""The ablation report: verdicts next to the paper's direction, a table per comparison, a PNG chart."""

from vlmkit.experiments.manifest import Comparison
from vlmkit.experiments.report import chart, markdown

CMP = {
    "llm": Comparison(finding="Updating the LLM helps.", source="Sec. 3.1", arms={"frozen": "f.yaml", "updated": "u.yaml"},
                      metrics=["fewshot", "vqa"], expect={"fewshot": "updated > frozen", "vqa": "updated > frozen"}),
    "tokens": Comparison(finding="2x2 merging costs little.", arms={"full": "a.yaml", "merged": "b.yaml"},
                         metrics=["vqa", "text"], expect={"vqa": "full ~ merged", "text": "full > merged"}),
}
SCORES = {
    "llm": {"frozen": {"fewshot": 0.30, "vqa": 0.61}, "updated": {"fewshot": 0.55, "vqa": 0.60}},
    "tokens": {"full": {"vqa": 0.80, "text": None}, "merged": {"vqa": 0.70, "text": None}},
}


def test_markdown_states_each_verdict_and_every_score():
    text = markdown("Ablations", "vlmkit ablate x --scale tiny", CMP, SCORES, 0.02, notes={"tokens": "A note."}, chart="c.png")
    assert "Made by: `vlmkit ablate x --scale tiny`" in text
    assert "| llm | fewshot | updated > frozen | agrees |" in text
    assert "| llm | vqa | updated > frozen | inconclusive |" in text
    assert "| tokens | vqa | full ~ merged | disagrees |" in text
    assert "| tokens | text | full > merged | n/a |" in text
    assert "| frozen | 0.300 | 0.610 |" in text and "| merged | 0.700 | n/a |" in text
    assert "A note." in text and "![scores of every arm](c.png)" in text


def test_arm_tables_show_intervals_and_the_chance_and_blind_baselines():
    intervals = {"llm": {"frozen": {"vqa": [0.55, 0.67]}, "updated": {"vqa": [0.54, 0.66], "fewshot": [0.40, 0.70]}}}
    baselines = {"llm": {arm: {"fewshot": {"chance": 0.5, "blind": 0.5}, "vqa": {"chance": 0.42, "blind": 0.66}}
                         for arm in ("frozen", "updated")}}
    text = markdown("Ablations", "cmd", CMP, SCORES, 0.02, intervals=intervals, baselines=baselines)
    assert "| frozen | 0.300 | 0.610 [0.550, 0.670] |" in text
    assert "| updated | 0.550 [0.400, 0.700] | 0.600 [0.540, 0.660] |" in text
    assert "| *chance* | 0.500 | 0.420 |" in text and "| *blind (answer prior, no image)* | 0.500 | 0.660 |" in text
    assert "| merged | 0.700 | n/a |" in text and text.count("*chance*") == 1  # no baselines known for 'tokens'


def test_beyond_noise_reads_the_paired_interval_of_each_relation():
    import numpy as np

    rng = np.random.default_rng(0)
    frozen = {i: float(v) for i, v in enumerate(rng.random(400) < 0.3)}
    clearly = {i: max(v, float(rng.random() < 0.4)) for i, v in frozen.items()}  # ~28 points better, item by item
    barely = {i: v for i, v in frozen.items()} | {0: 1.0 - frozen[0]}  # one item differs
    items = {"llm": {"frozen": {"fewshot": frozen, "vqa": frozen}, "updated": {"fewshot": clearly, "vqa": barely}}}
    text = markdown("Ablations", "cmd", {"llm": CMP["llm"]}, {"llm": SCORES["llm"]}, 0.02, items=items)
    fewshot = next(line for line in text.splitlines() if line.startswith("| llm | fewshot |")).split("|")
    vqa = next(line for line in text.splitlines() if line.startswith("| llm | vqa |")).split("|")
    assert fewshot[5].strip().startswith("updated - frozen = +0.") and "n=400" in fewshot[5] and fewshot[6].strip() == "yes"
    assert vqa[6].strip() == "no"  # one item's difference is within noise
    assert "| tokens |" not in text
    plain = markdown("Ablations", "cmd", CMP, SCORES, 0.02)
    assert "| llm | fewshot | updated > frozen | agrees | n/a | n/a |" in plain  # without item scores


def test_chart_is_a_png(tmp_path):
    path = chart(CMP, SCORES, tmp_path / "sub" / "chart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_training_curves_png_and_smoothing(tmp_path):
    from hypothesis import given, strategies as st

    from vlmkit.experiments.curves import plot_curves, smooth

    rows = [{"stage": s, "step": i, "loss": 3.0 - i * 0.1, "lr": 1e-3} for s in ("align", "sft") for i in range(12)]
    rows.append({"stage": "sft", "step": 12, "loss": None, "lr": 1e-3})  # a step without a loss is skipped
    path = plot_curves(rows, tmp_path / "curves.png")
    assert path.read_bytes()[:4] == b"\x89PNG"

    @given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30), st.integers(1, 8))
    def check(values, window):
        out = smooth(values, window)
        assert len(out) == len(values)
        for i, v in enumerate(out):
            part = values[max(0, i - window + 1): i + 1]
            assert abs(v - sum(part) / len(part)) <= 1e-6 * (1 + max(abs(x) for x in part))

    check()
