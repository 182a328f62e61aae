"""benchmarks/gpu_mfu.py options: ``--attn`` reaches the LLM, ``--compile`` compiles the blocks of
the measured model, and its batches carry the collator's ``image_positions`` (no splice sync)."""

import functools

from vlmkit.model.splice import placeholder_positions
from vlmkit.train.compile import compile_blocks
from test_train_benchmarks import load


def test_attn_and_compile_options_reach_the_measured_model(monkeypatch, capsys):
    bench = load("gpu_mfu")
    built, compiled, seen = [], [], []
    build = bench.build_vlm
    monkeypatch.setattr(bench, "build_vlm", lambda cfg: built.append(build(cfg)) or built[-1])

    def compile_spy(model):  # aot_eager: the same graphs as inductor, without its minutes on a CPU
        compiled.append(compile_blocks(model, backend="aot_eager"))

    monkeypatch.setattr(bench, "compile_blocks", compile_spy)
    runner = bench.plain_runner
    monkeypatch.setattr(bench, "plain_runner", lambda model, batch, args: seen.append(batch) or runner(model, batch, args))
    ratio = bench.main(["--tiny", "--loop", "plain", "--optimizer", "adamw", "--attn", "eager", "--compile", "on"])
    assert ratio > 0
    (model,), (batch,) = built, seen
    assert model.llm.attn_implementation == "eager"
    assert compiled == [4] and all(isinstance(b.forward, functools.partial) for b in model.llm.model.model.layers)
    assert (batch["image_positions"] == placeholder_positions(batch["input_ids"], model.image_token_id)).all()
    assert batch["image_positions"].numel() == batch["pixel_values"].shape[0] * model.num_image_tokens > 0
    assert "attn eager" in capsys.readouterr().out


def test_attn_reaches_the_full_size_llm_config():
    bench = load("gpu_mfu")
    args = type("Args", (), {"tiny": False, "llm_layers": 2, "attn": "flex_attention"})()
    assert bench.model_config(args)["llm"]["attn_implementation"] == "flex_attention"
