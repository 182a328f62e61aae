"""One stage of a recipe as a Composer :class:`~composer.Trainer`: freezing, LoRA, optimizer,
schedule, batch split, precision, parallelism, checkpoints, history and loggers."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from vlmkit.storage.layout import RunLayout, StageDir
from vlmkit.storage.weights import save_state_dict
from vlmkit.train import checkpoint as ckpt
from vlmkit.train.batching import BatchPlan, data_spec, plan_batch
from vlmkit.train.compile import compile_blocks, compile_enabled
from vlmkit.train.composer_model import VLMComposerModel
from vlmkit.train.freezing import count_parameters, param_groups, set_trainable
from vlmkit.train.gloo_average import GlooAverage
from vlmkit.train.grad_norm import GradNorm
from vlmkit.train.history import LossHistory
from vlmkit.train.lora import add_lora, merged_state_dict
from vlmkit.train.optim import build_optimizer, build_scheduler
from vlmkit.train.parallel import apply_activation_checkpointing, mark_wrapping, parallelism_config
from vlmkit.train.precision import PrecisionPlan, check_trainable_dtypes, keep_master_weights, resolve_device, resolve_precision
from vlmkit.train.qlora import check_qlora
from vlmkit.train.remote import RemoteFolder, RemoteMirror, stage_uri
from vlmkit.train.resume import resume_checkpoint, resuming_trainer

if TYPE_CHECKING:
    from vlmkit.config import Recipe
    from vlmkit.train.peak import Peak
    from vlmkit.model.vlm import VisionLanguageModel

log = logging.getLogger(__name__)

# (recipe, stage name, model, per-process batch size) -> an iterable of batch dicts
DataLoaderFactory = Callable[["Recipe", str, "VisionLanguageModel", int], Any]


def default_dataloader_factory(recipe: "Recipe", stage: str, model: "VisionLanguageModel", batch_size: int):
    from vlmkit.data.loader import build_dataloader

    return build_dataloader(recipe, stage, model, batch_size)


@dataclass
class StageRun:
    """A ready-to-fit stage: the trainer plus what the caller needs after ``fit``."""

    name: str
    folder: Path
    trainer: Any
    model: "VisionLanguageModel"
    batch: BatchPlan
    precision: PrecisionPlan
    resumed_from: Path | None


def world_size() -> int:
    from composer.utils import dist

    return dist.get_world_size()


def training_peak(precision: PrecisionPlan) -> "Peak | None":
    """Per-process peak that MFU is measured against: the GPU's datasheet dense rate, or a matmul
    measured robustly on the CPU in the dtype the matmuls will run in."""
    from vlmkit.train.peak import cpu_peak, datasheet_peak

    if precision.device == "gpu":
        return datasheet_peak(torch.float32 if precision.composer == "fp32" else torch.bfloat16)
    return cpu_peak(precision.autocast or torch.float32)


def warn_if_slow_bf16(precision: PrecisionPlan) -> None:
    from vlmkit.train.peak import cpu_bf16_speed

    if precision.autocast is torch.bfloat16 and (speed := cpu_bf16_speed()) < 0.5:
        log.warning("trainer.precision=bf16: this CPU has no native bfloat16 matmul (bf16 runs at %.2fx the fp32 rate); "
                    "training will be slower than with trainer.precision=fp32", speed)


def batches_in(duration: str) -> int | None:
    return int(float(duration[:-2])) if duration.endswith("ba") else None


def build_stage(
    recipe: "Recipe",
    stage_name: str,
    model: "VisionLanguageModel",
    dataloader_factory: DataLoaderFactory = default_dataloader_factory,
    progress_stream=None,
) -> StageRun:
    """Prepare ``model`` and a Composer trainer for ``stage_name``; resumes from the stage's newest
    checkpoint when ``trainer.autoresume`` is on."""
    from composer.callbacks import LRMonitor, SpeedMonitor

    from vlmkit.train.loggers import build_callbacks, build_loggers
    from vlmkit.train.progress import ProgressBar

    stage, tcfg = recipe.stages[stage_name], recipe.trainer
    folder = RunLayout.of(recipe).stage(stage_name).folder
    device = resolve_device(tcfg.device)
    precision = resolve_precision(tcfg.precision, device)
    check_trainable_dtypes(recipe, stage_name, precision)
    check_qlora(recipe, stage_name, device)  # quantize_base: bitsandbytes and a device it quantizes on
    warn_if_slow_bf16(precision)

    set_trainable(model, stage.trainable, stage.llm_trainable_layers)
    add_lora(model, stage.lora, stage.trainable, device, precision.compute_dtype)
    keep_master_weights(model)  # trainable weights in fp32, computed in precision.compute_dtype
    if compile_enabled(tcfg.compile, device):
        compile_blocks(model)  # regional: each repeated block, before checkpointing and FSDP2 wrap them
    wrapped = VLMComposerModel(model, autocast_dtype=precision.autocast, loss_reduction=stage.loss_reduction)
    mark_wrapping(wrapped)
    if tcfg.activation_checkpointing and tcfg.parallelism == "ddp":
        apply_activation_checkpointing(wrapped)

    batch = plan_batch(stage.global_batch_size, world_size(), stage.microbatch_size, device == "gpu")
    loader = dataloader_factory(recipe, stage_name, model, batch.device_batch)
    optimizer = build_optimizer(param_groups(model, stage.optimizer), stage.optimizer, device)

    peak = training_peak(precision)
    grad_norm = GradNorm(stage.max_grad_norm)
    history = LossHistory(StageDir(folder).history, stage_name, peak, grad_norm)
    callbacks = [history, grad_norm, SpeedMonitor(window_size=10, gpu_flops_available=peak.flops if peak else None), LRMonitor()]
    if tcfg.parallelism == "fsdp2":
        callbacks.insert(1, GlooAverage())  # gradients averaged before their norm is taken
    if tcfg.save_num_checkpoints_to_keep != 0:  # 0: no checkpoints (the stage's final weights are still written)
        callbacks.insert(0, ckpt.AtomicCheckpointSaver(folder, tcfg.save_interval, tcfg.save_num_checkpoints_to_keep,
                                                       sharded=tcfg.checkpoint_format == "sharded"))
    if tcfg.progress_bar:
        callbacks.append(ProgressBar(history, batches_in(stage.duration), progress_stream))
    callbacks += build_callbacks(tcfg.callbacks, folder)  # the recipe's trainer.callbacks (registered)
    remote = RemoteFolder(uri) if (uri := stage_uri(recipe, stage_name)) else None  # trainer.remote_run_dir
    if remote is not None:
        callbacks.insert(1, RemoteMirror(folder, remote))  # after the saver: uploads what it published
    resume = resume_checkpoint(folder, device, tcfg.checkpoint_format == "sharded", remote) if tcfg.autoresume else None  # intact, else older or an error
    trainer = resuming_trainer(  # restores `resume` without unpickling code
        resume,
        model=wrapped,
        train_dataloader=data_spec(loader, model.image_token_id, model.num_image_tokens, stage.loss_reduction),
        max_duration=stage.duration,
        optimizers=optimizer,
        schedulers=build_scheduler(stage.scheduler),
        step_schedulers_every_batch=True,
        device=device,
        precision=precision.composer,
        device_train_microbatch_size=batch.microbatch,
        accumulate_train_batch_on_tokens=True,
        parallelism_config=parallelism_config(tcfg.parallelism, tcfg.activation_checkpointing, precision, tcfg.checkpoint_format),
        seed=tcfg.seed,
        callbacks=callbacks,
        loggers=build_loggers(tcfg.loggers, folder),
        console_log_interval=tcfg.log_interval,
        progress_bar=False,
        log_to_console=not tcfg.progress_bar,  # without the bar, Composer prints metrics every log_interval
        run_name=f"{recipe.name}-{stage_name}",
    )
    return StageRun(stage_name, folder, trainer, model, batch, precision, resume)


def finish_stage(run: StageRun, started: float) -> dict[str, Any]:
    """Fold LoRA adapters in, write the stage's final weights and ``done.json`` (rank 0), close the trainer."""
    from composer.utils import dist

    state = merged_state_dict(run.model, ckpt.full_state_dict(run.model))  # LoRA folded in (gathered under FSDP2)
    rows = run.trainer.state.callbacks
    history = next(c for c in rows if isinstance(c, LossHistory))
    summary = {
        "stage": run.name,
        "batches": int(run.trainer.state.timestamp.batch),
        "final_loss": history.rows[-1]["loss"] if history.rows else None,
        "first_loss": history.rows[0]["loss"] if history.rows else None,
        "seconds": time.perf_counter() - started,
        "total_params": count_parameters(run.model),
        "world_size": run.batch.world_size,
        "resumed_from": str(run.resumed_from) if run.resumed_from else None,
    }
    if dist.get_global_rank() == 0:
        stage = StageDir(run.folder)
        save_state_dict(state, stage.weights)
        stage.mark_done(summary)
        for mirror in (c for c in rows if isinstance(c, RemoteMirror)):
            mirror.push_finished()  # weights and history, then done.json
    dist.barrier()
    run.trainer.close()
    return summary
