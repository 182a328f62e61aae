"""fp32 master weights under 16-bit compute: a recipe's ``torch_dtype: bfloat16`` on a part that
trains is the compute dtype; the weights the optimizer updates are fp32 (frozen parts stay bf16)."""

import pytest
import torch
from composer.core import Precision
from composer.distributed.fsdp2 import create_mixed_precision_policy

from vlmkit.train.freezing import count_parameters
from vlmkit.train.parallel import parallelism_config
from vlmkit.train.plan import plan_recipe
from vlmkit.train.precision import keep_master_weights, resolve_precision
from vlmkit.train.stages import build_stage_model
from vlmkit.testing.synthetic import synthetic_factory
from vlmkit.train.trainer import build_stage
from vlmkit.config import validate_recipe
from train_helpers import recipe_dict, stage

DATA = synthetic_factory(num_rows=32)


def save_llama(folder, dtype=torch.float32):
    """A tiny Llama checkpoint stored in ``dtype``, loaded through ``hf_causal_lm`` as the VILA recipes load theirs."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, eos_token_id=258)
    LlamaForCausalLM(cfg).to(dtype).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    return save_llama(tmp_path_factory.mktemp("llama"))


def bf16_recipe(run_dir, llama, precision, trainable=("projector", "llm"), torch_dtype="bfloat16", **stage_options):
    """One stage over the tiny VLM whose LLM is the checkpoint at ``llama``, loaded as ``torch_dtype``."""
    data = recipe_dict(run_dir, stages={"s": stage(list(trainable), **stage_options)}, precision=precision, device="cpu")
    data["model"]["llm"] = {"name": "hf_causal_lm", "pretrained": str(llama), "torch_dtype": torch_dtype}
    return validate_recipe(data)


@pytest.fixture
def no_cpu_peak(monkeypatch):
    """Skip the bf16 matmul measurements behind MFU and the slow-bf16 warning (a minute on a CPU
    without native bf16); they are not what these tests are about."""
    from vlmkit.train import trainer

    monkeypatch.setattr(trainer, "training_peak", lambda precision: None)
    monkeypatch.setattr(trainer, "warn_if_slow_bf16", lambda precision: None)


def test_small_lr_updates_survive_in_fp32_masters(tmp_path, llama_folder, no_cpu_peak):
    """(Composer runs this schedule's first two steps at lr 0: one step at lr 1e-5.)
    AdamW at lr 1e-5 moves every weight by ~1e-5 a step: below bf16's resolution for weights of
    Llama's scale (0.02 x 2**-8 = 8e-5), so updating the bf16 weights themselves would leave them
    unchanged. Through build_stage, the trained layer is fp32, it moves, and its new values mostly
    round back to the old bf16 ones (what pure bf16 training would have kept); the frozen layer stays bf16."""
    recipe = bf16_recipe(tmp_path, llama_folder, "bf16", batches=3, llm_trainable_layers=1,
                         optimizer={"name": "adamw", "lr": 1e-5})
    model = build_stage_model(recipe, "s")
    layers = model.llm.model.model.layers
    start = layers[1].mlp.up_proj.weight.detach().clone()
    assert start.dtype == torch.bfloat16
    run = build_stage(recipe, "s", model, DATA)
    run.trainer.fit()
    trained, frozen = layers[1].mlp.up_proj.weight.detach(), layers[0].mlp.up_proj.weight
    assert trained.dtype == torch.float32 and frozen.dtype == torch.bfloat16
    moved = trained != start.float()
    assert moved.float().mean() > 0.95
    assert (trained.bfloat16() == start).float().mean() > 0.5  # updates a bf16 weight would have rounded away
    assert run.trainer.state.optimizers[0].state[layers[1].mlp.up_proj.weight]["exp_avg"].dtype == torch.float32
    run.trainer.close()


def test_plan_counts_the_bytes_training_holds(tmp_path, llama_folder, no_cpu_peak):
    """``vlmkit plan``'s weights and optimizer memory equal what the trainer really holds: fp32
    master weights for the trained LLM layer and projector, bf16 for the frozen LLM layers."""
    recipe = bf16_recipe(tmp_path, llama_folder, "bf16", batches=1, llm_trainable_layers=1, optimizer={"name": "adamw", "lr": 1e-5})
    [plan] = plan_recipe(recipe, world_size=1, device="cpu")
    run = build_stage(recipe, "s", build_stage_model(recipe, "s"), DATA)
    run.trainer.fit()
    held = sum(p.numel() * p.element_size() for p in {id(p): p for p in run.model.parameters()}.values())
    opt = run.trainer.state.optimizers[0]
    state = sum(t.numel() * t.element_size() for st in opt.state.values() for t in st.values() if t.dim() > 0)
    frozen = sum(p.numel() for p in run.model.llm.parameters() if not p.requires_grad)
    assert frozen > 0 and held == plan.memory["weights"] == 4 * plan.trainable_params + 2 * frozen + 4 * count_parameters(run.model.vision_encoder)
    assert state == plan.memory["optimizer"] == 8 * plan.trainable_params
    assert plan.compute_dtype == "bfloat16" and plan.bytes_per_trained_param == 16
    run.trainer.close()


def test_fp32_compute_refuses_bf16_trainable_weights_and_keeps_frozen_ones(tmp_path, llama_folder, no_cpu_peak):
    recipe = bf16_recipe(tmp_path, llama_folder, "fp32")
    with pytest.raises(ValueError, match=r"stages.s trains model.llm, whose torch_dtype is bfloat16, .* trainer.precision: bf16 .* drop model.llm.torch_dtype"):
        build_stage(recipe, "s", build_stage_model(recipe, "s"), DATA)
    recipe = bf16_recipe(tmp_path, llama_folder, "fp32", trainable=["projector"])  # a frozen bf16 LLM is fine
    run = build_stage(recipe, "s", build_stage_model(recipe, "s"), DATA)
    assert {p.dtype for p in run.model.llm.parameters()} == {torch.bfloat16}
    run.trainer.close()
    # a checkpoint stored in bf16 and loaded as is ('auto', transformers 5's default) trains in fp32
    recipe = bf16_recipe(tmp_path / "auto", save_llama(tmp_path / "bf16-llama", torch.bfloat16), "fp32", torch_dtype="auto")
    model = build_stage_model(recipe, "s")
    assert {p.dtype for p in model.llm.parameters()} == {torch.bfloat16}
    run = build_stage(recipe, "s", model, DATA)
    assert {p.dtype for p in run.model.llm.parameters()} == {torch.float32}
    run.trainer.close()


def test_upcast_keeps_tied_weights_tied_and_frozen_weights_as_loaded():
    emb = torch.nn.Embedding(10, 4).bfloat16()
    head = torch.nn.Linear(4, 10, bias=False).bfloat16()
    head.weight = emb.weight
    frozen = torch.nn.Linear(4, 4).bfloat16().requires_grad_(False)
    model = torch.nn.ModuleList([emb, head, frozen])
    assert keep_master_weights(model) == 40  # the tied tensor once
    assert head.weight is emb.weight and emb.weight.dtype == torch.float32
    assert frozen.weight.dtype == torch.bfloat16


@pytest.mark.parametrize("precision, device, param_dtype", [
    ("amp_bf16", "gpu", torch.bfloat16), ("amp_fp16", "gpu", torch.float16), ("fp32", "gpu", torch.float32),
    ("bf16", "cpu", torch.float32),  # CPU: autocast casts the fp32 shards' gathered copies
])
def test_fsdp2_gathers_in_the_compute_dtype_and_reduces_in_fp32(precision, device, param_dtype):
    plan = resolve_precision(precision, device, check_device=False)
    cfg = parallelism_config("fsdp2", False, plan).fsdp2
    policy = create_mixed_precision_policy(Precision(plan.composer), cfg.mixed_precision)
    assert (policy.param_dtype, policy.reduce_dtype) == (param_dtype, torch.float32)


def test_check_refuses_a_16_bit_trained_part_under_fp32_compute_before_training(tmp_path, llama_folder):
    from vlmkit.config import RecipeError
    from vlmkit.preflight import preflight

    with pytest.raises(RecipeError, match=r"stages.s trains model.llm, whose torch_dtype is bfloat16"):
        preflight(bf16_recipe(tmp_path, llama_folder, "fp32"), check_data=False)
    preflight(bf16_recipe(tmp_path, llama_folder, "fp32", trainable=["projector"]), check_data=False)  # frozen: fine
