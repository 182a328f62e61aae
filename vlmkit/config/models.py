"""Pydantic models of a recipe. Pure data: importing this module imports no torch.

A recipe is one whole run: the ``model`` (three registered components), named ``datasets``,
``data`` options, an ordered mapping of ``stages`` and ``trainer`` options. See
``docs/recipes.md`` (generated from these models) for every key.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic import Strict as StrictType

from vlmkit.registry import RegistryError, registries

Part = Literal["vision_encoder", "projector", "llm"]
Precision = Literal["fp32", "amp_bf16", "amp_fp16", "bf16"]
# Composer time strings: 10ep, 100ba, 5000sp, 1000000tok, 0.03dur
TIME_RE = re.compile(r"^(\d+(?:\.\d+)?)(ep|ba|sp|tok|dur)$")


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


# A whole number: true, 4.0 and "4" are refused (a lax int would read true as 1).
Count = Annotated[int, StrictType()]
# A finite number: true/false, .inf and .nan are refused; "1e-5" (YAML 1.1 reads it as text) is read.
Real = Annotated[float, BeforeValidator(_not_bool), AllowInfNan(False)]
Seed = Annotated[int, StrictType(), Field(ge=0, lt=2**32)]


class Strict(BaseModel):
    """Base for every recipe section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _time(value: str, positive: bool = True) -> str:
    """A Composer time string; ``positive``: zero is refused (a stage or interval that never elapses)."""
    m = TIME_RE.match(str(value))
    if m is None:
        raise ValueError(f"{value!r} is not a duration; use a number with a unit: ep, ba, sp, tok or dur (e.g. '1ep', '500ba', '0.03dur')")
    number, unit = float(m[1]), m[2]
    if unit != "dur" and not number.is_integer():
        raise ValueError(f"{value!r}: {unit} counts whole units; use a whole number or a fraction of the stage in dur (e.g. '0.5dur')")
    if positive and number == 0:
        raise ValueError(f"{value!r} is zero; it must be longer than 0 (e.g. '1ep', '100ba')")
    return str(value)


def _registered(kind: str) -> Any:
    """A validator refusing a name (or each key of a mapping) not registered in ``kind``, with the
    registry's one-line "did you mean" message."""

    def check(cls, value: Any) -> Any:
        try:
            registry = registries().kind(kind)  # names only: looking them up imports nothing
        except RegistryError:  # built inside a plugin's hook: checked again when a recipe resolves it
            return value
        for name in value if isinstance(value, dict) else [] if value is None else [value]:
            if name not in registry:
                raise ValueError(registry.unknown_message(name))
        return value

    return classmethod(check)


class ComponentConfig(BaseModel):
    """A registered component: ``name`` plus the options its factory takes."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(description="Registered name (see `vlmkit plugins list`).")

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelConfig(Strict):
    vision_encoder: ComponentConfig = Field(description="Registered vision encoder and its options.")
    projector: ComponentConfig = Field(description="Registered projector and its options.")
    llm: ComponentConfig = Field(description="Registered LLM backbone and its options.")
    chat_template: str = Field("tokenizer", description="Registered chat template; 'tokenizer' uses the tokenizer's own.")
    init_from: str | None = Field(
        None, description="A llava-hf folder to start from: each part not given becomes the `llava_hf` component reading it (a part given without `name` adds options to it).")

    @model_validator(mode="before")
    @classmethod
    def _parts_from_init(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("init_from"):
            source = {"name": "llava_hf", "pretrained": str(data["init_from"])}
            given = {part: data.get(part) or {} for part in ("vision_encoder", "projector", "llm")}
            data = {**data, **{part: spec if "name" in spec else {**source, **spec} for part, spec in given.items()}}
        return data


class DatasetConfig(Strict):
    """Where a dataset's MDS shards live and how its samples become tokens.

    Either ``name`` (a registered dataset definition that fills the other keys) or ``kind`` and
    ``remote``/``local``.
    """

    name: str | None = Field(None, description="Registered dataset definition to start from.")
    kind: str | None = Field(None, description="Registered sample kind: pairs, interleaved, conversations, text or a plugin's.")
    remote: str | None = Field(None, description="Shard location: local folder or object-store URI (s3://, gs://, ...).")
    local: str | None = Field(None, description="Local cache folder for a remote (default: a temporary folder).")
    split: str | None = Field(None, description="Sub-folder of remote/local holding this split.")
    weight: Real = Field(1.0, gt=0, description="Times a bare name counts in a stage's 'a+b' mixture (name*N overrides).")
    options: dict[str, Any] = Field(default_factory=dict, description="Kind-specific options (pairs_per_sample, min_similarity, max_images, ...).")

    _k = field_validator("kind")(_registered("sample_kinds"))

    @model_validator(mode="after")
    def _named_or_located(self) -> "DatasetConfig":
        if self.name is None and (self.kind is None or (self.remote is None and self.local is None)):
            raise ValueError("give either 'name' (a registered dataset) or 'kind' with 'remote' or 'local'")
        return self


class DataConfig(Strict):
    max_seq_len: Count = Field(2048, gt=0, description="Tokens per training sequence (VILA pretrain: 4096).")
    packing: bool = Field(True, description="Pack several samples into each sequence (no cross-sample attention).")
    max_images_per_sample: Count = Field(6, ge=0, description="Images kept per sample (VILA's MMC4 rule: 6).")
    num_workers: Count = Field(0, ge=0, description="DataLoader workers per process.")
    shuffle: bool = Field(True, description="Shuffle the streams (Streaming shuffles per rank).")
    shuffle_seed: Seed = Field(9176, description="Streaming shuffle seed.")

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pack_buffer" in data:
            raise ValueError("pack_buffer was removed: packing balances the samples of each device batch over its rows "
                             "(no buffer to size); delete data.pack_buffer")
        return data


class OptimizerConfig(Strict):
    name: str = Field(
        "decoupled_adamw", description="Registered optimizer: decoupled_adamw, adamw (PyTorch, what VILA used; fused on a GPU), "
                                       "decoupled_sgdw or a plugin's.")
    lr: Real = Field(gt=0, description="Peak learning rate.")
    weight_decay: Real = Field(0.0, ge=0)
    betas: tuple[Annotated[Real, Field(ge=0, lt=1)], Annotated[Real, Field(ge=0, lt=1)]] = Field(
        (0.9, 0.999), description="Adam's moment decay rates, each in [0, 1); SGD uses the first as momentum.")
    eps: Real = Field(1e-8, gt=0)
    lr_multipliers: dict[Part, Annotated[Real, Field(gt=0)]] = Field(default_factory=dict, description="Per-part learning-rate factor (param groups).")

    _n = field_validator("name")(_registered("optimizers"))


class SchedulerConfig(Strict):
    name: str = Field("cosine_with_warmup", description="Registered scheduler: cosine_with_warmup, linear_with_warmup, "
                                                       "constant_with_warmup or a plugin's.")
    warmup: str = Field("0.03dur", description="Warmup length (VILA: 3% of training).")
    alpha_f: Real = Field(0.0, ge=0, le=1, description="Final LR as a fraction of the peak.")

    _t = field_validator("warmup")(lambda cls, v: _time(v, positive=False))
    _n = field_validator("name")(_registered("schedulers"))


class LoraConfig(Strict):
    r: Count = Field(16, gt=0)
    alpha: Count = Field(32, gt=0)
    dropout: Real = Field(0.0, ge=0, lt=1)
    targets: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    quantize_base: Literal["nf4", "fp4"] | None = Field(
        None, description="QLoRA: hold the part's frozen Linear layers (inside its blocks) in 4 bits with bitsandbytes "
                          "(extra qlora), ~0.56 bytes per weight; the adapters train on top. Where bitsandbytes can quantize (CUDA; "
                          "the CPU from bitsandbytes 0.50), not under FSDP2. See Performance.")


class StageConfig(Strict):
    trainable: list[Part] = Field(description="Parts updated in this stage (VILA's tune_* flags).")
    mixture: dict[str, Real] | str = Field(description="{dataset: proportion} summing to 1, or VILA's grammar 'a+b*2' (a bare name counts its dataset's weight).")
    mixer: str = Field("proportional", description="Registered data mixer.")
    optimizer: OptimizerConfig
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    global_batch_size: Count = Field(gt=0, description="Records per optimizer step across all processes, counted before packing.")
    microbatch_size: int | Literal["auto"] | None = Field(
        None, description="Per-device microbatch (> 0); None = whole device batch; 'auto' on GPU.")
    duration: str = Field(description="Stage length, e.g. '1ep', '2000ba'.")
    max_seq_len: Count | None = Field(None, gt=0, description="Overrides data.max_seq_len for this stage.")
    lora: dict[Part, LoraConfig] = Field(default_factory=dict, description="LoRA adapters per part (needs peft).")
    llm_trainable_layers: Count | None = Field(
        None, gt=0, description="When the stage trains 'llm': only its last N decoder layers (embeddings, final norm, head frozen)."
    )
    loss_reduction: Literal["token", "sample"] = Field(
        "token", description="'token': mean over every target token (VILA); 'sample': each sample's mean, then over samples.")
    max_grad_norm: Real | None = Field(
        None, gt=0, description="Clip the global L2 norm of the gradients to this before each step (VILA/HF Trainer: 1.0); "
                                "None: no clipping. The norm is logged each step either way (train/grad_norm).")

    _d = field_validator("duration")(lambda cls, v: _time(v))

    @field_validator("microbatch_size", mode="before")
    @classmethod
    def _microbatch(cls, v: Any) -> Any:
        if v is None or v == "auto" or (type(v) is int and v > 0):
            return v
        raise ValueError("expected a whole number > 0, 'auto' or null")

    @field_validator("trainable")
    @classmethod
    def _some_trainable(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a stage must train at least one part: vision_encoder, projector or llm")
        if len(set(v)) != len(v):
            raise ValueError(f"parts listed twice: {v}")
        return v

    @field_validator("mixture")
    @classmethod
    def _proportions(cls, v: dict[str, float] | str) -> dict[str, float] | str:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("the mixture is empty; name at least one dataset")
            return v
        if not v:
            raise ValueError("the mixture is empty; name at least one dataset")
        bad = {k: w for k, w in v.items() if not w > 0}
        if bad:
            raise ValueError(f"weights must be positive, got {bad}")
        total = sum(v.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"proportions sum to {total:g}, not 1; rescale them or use the 'a+b*N' grammar for repeats")
        return v


class TrainerConfig(Strict):
    """How every stage runs. ``precision`` is the compute dtype only: the weights a stage trains are
    held in fp32 (master weights) with fp32 gradients and optimizer state, 16 bytes per trained
    parameter with Adam (divided over the processes under FSDP2), so small updates are not rounded
    away; frozen parts stay in their ``torch_dtype``. A trained part with a 16-bit ``torch_dtype`` needs
    a 16-bit ``precision`` (``amp_bf16`` on a GPU, ``bf16`` on the CPU). See [Performance](performance.md#precision-and-gradient-clipping)."""

    seed: Seed = 17
    device: Literal["auto", "cpu", "gpu"] = "auto"
    precision: Precision = Field("fp32", description="Compute dtype: fp32, amp_bf16, amp_fp16 (GPU) or bf16 (autocast on CPU); "
                                                     "trained weights are held in fp32 under each (master weights).")
    parallelism: Literal["ddp", "fsdp2"] = Field("ddp", description="Data parallel strategy across processes.")
    activation_checkpointing: bool = False
    compile: bool | Literal["auto"] = Field(
        "auto", description="torch.compile (inductor) each repeated block, every vision block and decoder layer, not the "
                            "whole model: auto = on for GPUs, off on CPUs. The first steps (and each new batch shape "
                            "until shapes turn dynamic) pay the compile. See Performance.")
    run_dir: str = Field("runs/${recipe}", description="Checkpoints, logs and exports go under here.")
    save_interval: str = Field("1ep", description="Checkpoint interval.")
    save_num_checkpoints_to_keep: Count = Field(1, ge=-1)
    checkpoint_format: Literal["full", "sharded"] = Field(
        "full", description="full: one ba{N}.pt gathered and written by rank 0; sharded (needs parallelism=fsdp2): "
                            "each rank writes its own shards into a folder ba{N}/, nothing is gathered. "
                            "Final stage weights are one model.safetensors either way.")
    autoresume: bool = Field(True, description="Continue from the last checkpoint when rerun.")
    remote_run_dir: str | None = Field(
        None, description="s3://bucket/prefix: a copy of run_dir on an object store (S3 or S3-compatible through "
                          "S3_ENDPOINT_URL). Each stage's checkpoints, final weights and done.json are uploaded there; "
                          "a rerun whose run_dir lacks them resumes from, or skips a stage finished, there. See Reliability.")
    log_interval: str = Field("1ba", description="Console log interval of Composer's metrics when progress_bar is off.")
    loggers: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Registered Composer loggers and their options: console, file, tensorboard, mlflow, wandb or a plugin's.")
    callbacks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Extra registered Composer callbacks and their options: memory_monitor, optimizer_monitor, "
                                          "nan_monitor, runtime_estimator or a plugin's.")
    progress_bar: bool = True

    _s = field_validator("save_interval", "log_interval")(lambda cls, v: _time(v))
    _l = field_validator("loggers")(_registered("loggers"))
    _c = field_validator("callbacks")(_registered("callbacks"))

    @field_validator("remote_run_dir")
    @classmethod
    def _s3_uri(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^s3://[^/]+", v):
            raise ValueError(f"{v!r} is not an s3:// URI; write s3://bucket/prefix (S3-compatible stores: set "
                             "S3_ENDPOINT_URL), or leave remote_run_dir out")
        return v

    @model_validator(mode="after")
    def _sharded_needs_fsdp2(self):
        if self.checkpoint_format == "sharded" and self.parallelism != "fsdp2":
            raise ValueError(f"checkpoint_format 'sharded' needs parallelism 'fsdp2' (got {self.parallelism!r}); "
                             "set trainer.parallelism=fsdp2 or trainer.checkpoint_format=full")
        return self


class TaskConfig(Strict):
    name: str = Field(description="Registered evaluation task.")
    shots: Count = Field(0, ge=0)
    limit: Count | None = Field(None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)


class EvalConfig(Strict):
    tasks: list[TaskConfig] = Field(default_factory=list)
    batch_size: Count = Field(8, gt=0)
    max_new_tokens: Count | None = Field(None, gt=0, description="Reply length cap for every task; unset: each task's own (8 for VQA, 4 for easy-VQA's one-word answers, 1024 for judged tasks).")


class Recipe(Strict):
    name: str = Field(description="Run name; used in run_dir.")
    description: str = ""
    model: ModelConfig
    datasets: dict[str, DatasetConfig] = Field(default_factory=dict)
    data: DataConfig = Field(default_factory=DataConfig)
    stages: dict[str, StageConfig] = Field(description="Ordered stages; each starts from the previous one's weights.")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def key_origins(self) -> dict[str, str]:
        """``{key path: file}`` for the keys inherited through ``base:`` (filled by ``load_recipe``)."""
        return self._origins

    @field_validator("stages")
    @classmethod
    def _has_stages(cls, v: dict[str, StageConfig]) -> dict[str, StageConfig]:
        if not v:
            raise ValueError("a recipe needs at least one stage")
        return v

    @model_validator(mode="after")
    def _mixtures_name_datasets(self) -> "Recipe":
        from vlmkit.config.mixture import parse_mixture

        for stage_name, stage in self.stages.items():
            for ds in parse_mixture(stage.mixture, self.datasets):
                if ds not in self.datasets:
                    raise ValueError(
                        f"stages.{stage_name}.mixture: dataset {ds!r} is not defined under 'datasets' "
                        f"(defined: {', '.join(self.datasets) or 'none'})"
                    )
        return self

    def stage_max_seq_len(self, stage: str) -> int:
        return self.stages[stage].max_seq_len or self.data.max_seq_len
