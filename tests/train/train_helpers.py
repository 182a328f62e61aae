"""Shared builders for the training tests: a tiny model, tiny recipes, synthetic batches."""

from __future__ import annotations

import copy
import os
import shutil
import sys
from pathlib import Path

import torch
import yaml

from vlmkit.config import validate_recipe
from vlmkit.model.vlm import build_vlm
from vlmkit.storage.layout import DONE, WEIGHTS
from vlmkit.testing.synthetic import collate, synthetic_dataset

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("train_script.py")
TINY_MODEL = {
    "vision_encoder": {"name": "tiny_vit", "image_size": 16},
    "projector": {"name": "mlp"},
    "llm": {"name": "tiny_llama"},
}


def stage(trainable, lr=3e-3, batches=6, batch=8, **extra) -> dict:
    return {
        "trainable": trainable, "mixture": {"syn": 1.0}, "optimizer": {"lr": lr},
        "scheduler": {"warmup": "1ba"}, "global_batch_size": batch, "duration": f"{batches}ba", **extra,
    }


def recipe_dict(run_dir, stages: dict | None = None, **trainer) -> dict:
    """A three-stage (align, pretrain, sft) recipe over the tiny model and a placeholder dataset
    (the tests feed synthetic data through ``dataloader_factory``)."""
    return {
        "name": "tiny-test",
        "model": copy.deepcopy(TINY_MODEL),  # callers may change it: never the shared one
        "datasets": {"syn": {"kind": "pairs", "local": str(run_dir) + "-data"}},
        "data": {"max_seq_len": 48},
        "stages": stages or {
            "align": stage(["projector"], lr=1e-2),
            "pretrain": stage(["projector", "llm"]),
            "sft": stage(["projector", "llm"], lr=1e-3),
        },
        "trainer": {"run_dir": str(run_dir), "save_interval": "2ba", "progress_bar": False, **trainer},
    }


def make_recipe(run_dir, **kw):
    return validate_recipe(recipe_dict(run_dir, **kw))


def write_recipe(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def stop_before_done(stage_folder: Path) -> Path:
    """Take away what a kill after a stage's last checkpoint, before its ``done.json``, leaves
    unwritten: ``done.json`` and the final weights."""
    for name in (DONE, WEIGHTS):
        (stage_folder / name).unlink()
    return stage_folder


def copy_stopped_before_done(finished_run: Path, run_dir: Path, stage: str = "s") -> Path:
    """A copy of ``finished_run`` at ``run_dir`` as :func:`stop_before_done` leaves its ``stage``."""
    shutil.copytree(finished_run, run_dir, symlinks=True)
    stop_before_done(run_dir / stage)
    return run_dir


def subprocess_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), WANDB_MODE="disabled")
    env.pop("VLMKIT_DEBUG", None)
    return env


def python() -> str:
    return sys.executable


def tiny_model():
    torch.manual_seed(0)
    return build_vlm(TINY_MODEL)


def tiny_batch(model, rows=4, seq_len=48, images_per_sample=1, seed=0) -> dict:
    ds = synthetic_dataset(model, seq_len=seq_len, images_per_sample=images_per_sample, seed=seed)
    return collate([ds[i] for i in range(rows)])
