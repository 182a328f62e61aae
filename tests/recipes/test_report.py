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


def test_chart_is_a_png(tmp_path):
    path = chart(CMP, SCORES, tmp_path / "sub" / "chart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000
