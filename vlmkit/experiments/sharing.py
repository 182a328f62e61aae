"""Stage sharing between ablation runs: arms that agree on everything up to a stage (the align
stage of most arms, the pretrain stage of SFT-only arms) train that stage once.

A stage's *prefix key* hashes what determines its weights: the model, datasets, data options, the
trainer settings (not ``run_dir``) and the stage with every stage before it. A finished stage is
reused by hard-linking (or copying) its final weights, history and ``done.json`` into the other
run's folder; the trainer then skips it, and the next stage starts from those weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from vlmkit.storage.layout import DONE, HISTORY, WEIGHTS

SHARED_FILES = (WEIGHTS, HISTORY, DONE)  # done.json last: a stage counts as finished only once it is there


def prefix_keys(data: dict) -> dict[str, str]:
    """Stage name -> prefix key, in stage order."""
    trainer = {k: v for k, v in data.get("trainer", {}).items() if k not in ("run_dir", "progress_bar", "loggers")}
    common = {k: data.get(k) for k in ("model", "datasets", "data")} | {"trainer": trainer}
    keys, stages = {}, []
    for name, stage in data["stages"].items():
        stages.append([name, stage])
        body = json.dumps({**common, "stages": stages}, sort_keys=True, default=str)
        keys[name] = hashlib.sha256(body.encode()).hexdigest()[:16]
    return keys


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def adopt_finished_stages(data: dict, folder: Path, finished: dict[str, Path]) -> list[str]:
    """Fill ``folder`` (a run whose recipe is ``data``) with every leading stage already finished
    elsewhere (``finished``: prefix key -> stage folder); returns the stages adopted."""
    adopted = []
    for stage, key in prefix_keys(data).items():
        target = folder / stage
        if (target / DONE).is_file():
            continue
        source = finished.get(key)
        if source is None or not (source / DONE).is_file():
            break
        target.mkdir(parents=True, exist_ok=True)
        for name in SHARED_FILES:
            if (source / name).is_file():
                _link_or_copy(source / name, target / name)
        adopted.append(stage)
    return adopted


def register_finished_stages(data: dict, folder: Path, finished: dict[str, Path]) -> None:
    """Record the run's finished stages under their prefix keys."""
    for stage, key in prefix_keys(data).items():
        if (folder / stage / DONE).is_file():
            finished.setdefault(key, folder / stage)
