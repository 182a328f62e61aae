"""QLoRA (``stages.<name>.lora.<part>.quantize_base``, issue #16 item 5): the frozen block Linear
layers held in 4 bits by bitsandbytes, LoRA adapters trained on top; refused in one line where it
cannot run; ``vlmkit plan`` counts the 4-bit base at ~0.56 bytes per weight."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
from safetensors.torch import load_file

from vlmkit.config import validate_recipe
from vlmkit.preflight import RecipeError, preflight
from vlmkit.storage.layout import read_history
from vlmkit.testing.synthetic import synthetic_factory
from vlmkit.train import qlora
from vlmkit.train.plan import plan_recipe
from vlmkit.train.stages import build_stage_model, run_recipe
from train_helpers import copy_stopped_before_done, recipe_dict, stage, tiny_model

DATA = synthetic_factory(num_rows=64)
LORA = {"llm": {"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj"], "quantize_base": "nf4"}}
HAS_BNB = importlib.util.find_spec("bitsandbytes") is not None


def qlora_recipe(run_dir, **trainer):
    return validate_recipe(recipe_dict(run_dir, stages={"s": stage(["projector", "llm"], lr=1e-2, batches=3, lora=LORA)}, **trainer))


def device_can_quantize() -> str | None:
    """Why the real 4-bit test cannot run here, or ``None``."""
    if not HAS_BNB:
        return "bitsandbytes is not installed (pip install 'vlmkit[qlora]'); the 4-bit path needs it"
    device = "gpu" if torch.cuda.is_available() else "cpu"
    reason = qlora._probe(device, "nf4")
    return None if reason is None else f"bitsandbytes cannot quantize on this {device}: {reason}"


def test_without_bitsandbytes_check_and_train_refuse_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as if not installed
    recipe = qlora_recipe(tmp_path / "run")
    with pytest.raises(RecipeError) as checked:
        preflight(recipe, check_data=False)
    assert "stages.s.lora.llm.quantize_base: 4-bit base weights need bitsandbytes, which is not installed; " \
           "pip install 'vlmkit[qlora]'" in str(checked.value)
    with pytest.raises(ValueError, match=r"^stages.s.lora.llm.quantize_base: 4-bit base weights need bitsandbytes") as trained:
        run_recipe(recipe, dataloader_factory=DATA)
    assert "\n" not in str(trained.value) and not (tmp_path / "run" / "s").exists()


def test_a_device_bitsandbytes_cannot_quantize_on_is_refused_naming_it(tmp_path, monkeypatch):
    pytest.importorskip("bitsandbytes", reason="the probe runs bitsandbytes; the missing-package case is tested above")
    monkeypatch.setattr(qlora, "_probe", lambda device, quant: "no kernel for this device")
    with pytest.raises(ValueError, match=r"^stages.s.lora.llm.quantize_base: bitsandbytes \S+ cannot quantize to nf4 on this "
                                         r"cpu \(no kernel for this device\); train on a CUDA GPU, or drop quantize_base$"):
        qlora.check_qlora(qlora_recipe(tmp_path), "s", "cpu")


def test_4bit_base_is_refused_under_fsdp2(tmp_path):
    with pytest.raises(ValueError, match=r"quantize_base: 4-bit base weights are not supported under trainer.parallelism=fsdp2"):
        qlora.check_qlora(qlora_recipe(tmp_path, parallelism="fsdp2"), "s", "cpu")


def test_plan_counts_the_frozen_4bit_base_at_about_half_a_byte_per_weight(tmp_path):
    plain = validate_recipe(recipe_dict(tmp_path, stages={"s": stage(["projector", "llm"], lora={"llm": {**LORA["llm"], "quantize_base": None}})}))
    [before] = plan_recipe(plain, device="cpu")
    [after] = plan_recipe(qlora_recipe(tmp_path), device="cpu")
    model = tiny_model()
    quantized = sum(layer.weight.numel() for _, _, layer in qlora.quantizable(model.llm))
    assert quantized > 0 and qlora.BYTES_PER_PARAM == pytest.approx(0.5625)
    assert before.memory["weights"] - after.memory["weights"] == pytest.approx(quantized * (4 - 0.5625))  # fp32 -> 4 bits + scales
    assert after.trainable_params == before.trainable_params  # the adapters train either way


@pytest.mark.skipif(device_can_quantize() is not None, reason=str(device_can_quantize()))
def test_a_qlora_stage_trains_the_adapters_on_a_4bit_base_and_exports_plain_weights(tmp_path):
    from bitsandbytes.nn import Linear4bit

    recipe = qlora_recipe(tmp_path / "run")
    model = tiny_model()
    n = qlora.quantize_base(model.llm, "nf4", "cpu", torch.float32)
    assert n == len([m for m in model.llm.modules() if isinstance(m, Linear4bit)]) > 0
    run_recipe(recipe, dataloader_factory=DATA)
    rows = read_history(tmp_path / "run", ["s"])
    assert len(rows) == 3 and rows[-1]["loss"] < rows[0]["loss"]
    final = load_file(tmp_path / "run" / "s" / "model.safetensors")
    plain = build_stage_model(recipe, "s").state_dict()  # the stage's starting weights
    assert final.keys() == plain.keys() and all(final[k].shape == v.shape for k, v in plain.items())  # plain architecture
    q = "llm.model.model.layers.0.self_attn.q_proj.weight"
    k = "llm.model.model.layers.0.self_attn.k_proj.weight"
    assert not torch.equal(final[q], plain[q])  # adapter folded in
    err = (final[k] - plain[k]).abs().max() / plain[k].abs().max()
    assert 0 < err < 0.2  # k_proj has no adapter: its 4-bit round trip only


@pytest.mark.skipif(device_can_quantize() is not None, reason=str(device_can_quantize()))
def test_a_qlora_stage_resumes_from_its_checkpoint_bit_exactly(tmp_path):
    """The checkpoint holds the packed 4-bit base; the rebuilt stage quantizes the same weights the same way."""
    options = {"save_interval": "1ba", "save_num_checkpoints_to_keep": -1}
    run_recipe(qlora_recipe(tmp_path / "a", **options), dataloader_factory=DATA)
    copy_stopped_before_done(tmp_path / "a", tmp_path / "b")
    for name in ("ba3.pt", "ba3.pt.sha256"):
        (tmp_path / "b" / "s" / name).unlink()
    summary = run_recipe(qlora_recipe(tmp_path / "b", **options), dataloader_factory=DATA)["s"]
    assert summary["resumed_from"].endswith("ba2.pt")
    first, again = (load_file(tmp_path / r / "s" / "model.safetensors") for r in ("a", "b"))
    assert all(torch.equal(first[k], again[k]) for k in first)
    losses = [[(r["step"], r["loss"]) for r in read_history(tmp_path / run, ["s"])] for run in ("a", "b")]
    assert losses[0] == losses[1]
