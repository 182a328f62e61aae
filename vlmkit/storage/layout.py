"""The folders and files of a training run, and the one rule for which stages have finished.

A run (``trainer.run_dir``) holds one folder per stage::

    run_dir/<stage>/
        ba{N}.pt            full training state after batch N (a Composer checkpoint)
        ba{N}.pt.sha256     its checksum (``sha256sum`` format), published before the checkpoint
        ba{N}/              the same as a sharded checkpoint (``trainer.checkpoint_format: sharded``):
                            one shard file per rank, DCP's ``.metadata`` index, ``manifest.sha256``
        latest.pt           symlink to the newest checkpoint, for people and other tools
        model.safetensors   the stage's final weights (written when it finishes)
        done.json           the stage finished: its summary and the weights' sha256 (written last)
        history.jsonl       one JSON row per optimizer step
        .tmp-*              temporaries of files being written (never read)

A stage has **finished** when its ``done.json`` exists (it is written after the final weights);
the **last finished stage** is the last stage, in recipe order, that has.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from vlmkit.storage.atomic import remove, remove_temporaries, sha256_file, write_text_atomic

WEIGHTS = "model.safetensors"
DONE = "done.json"
LATEST = "latest.pt"
HISTORY = "history.jsonl"
CHECKSUM = ".sha256"  # suffix of a checkpoint's checksum file
CHECKPOINT = re.compile(r"^ba(\d+)(\.pt)?$")  # a file ba{N}.pt, or a sharded folder ba{N}


def parse_done(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The summary a ``done.json``'s bytes hold, or ``None`` and why they hold none."""
    try:
        done = json.loads(raw)
    except ValueError as exc:  # invalid JSON or UTF-8
        return None, f"not valid JSON: {exc}"
    return (done, "") if isinstance(done, dict) else (None, f"holds a {type(done).__name__}, not a JSON object")


def checksum_path(checkpoint: Path) -> Path:
    """The checksum file ``ba{N}.pt.sha256`` of a checkpoint."""
    return checkpoint.with_name(checkpoint.name + CHECKSUM)


@dataclass(frozen=True)
class StageDir:
    """One stage's folder (it may not exist yet)."""

    folder: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))  # a str works too

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS

    @property
    def done(self) -> Path:
        return self.folder / DONE

    @property
    def history(self) -> Path:
        return self.folder / HISTORY

    @property
    def latest(self) -> Path:
        return self.folder / LATEST

    @property
    def finished(self) -> bool:
        return self.done.is_file()

    def checkpoint(self, batch: int, sharded: bool = False) -> Path:
        """Where the checkpoint after ``batch`` goes: ``ba{N}/`` when ``sharded``, else ``ba{N}.pt``."""
        return self.folder / (f"ba{batch}" if sharded else f"ba{batch}.pt")

    def checkpoints(self) -> list[tuple[int, Path]]:
        """Published checkpoints (files and sharded folders) as ``(batch, path)``, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted((int(m.group(1)), self.folder / n) for n in os.listdir(self.folder) if (m := CHECKPOINT.match(n)))

    def newest_checkpoint(self) -> Path | None:
        found = self.checkpoints()
        return found[-1][1] if found else None

    def newest_weights(self) -> Path | None:
        """The final weights, else the newest checkpoint, else ``None``."""
        return self.weights if self.weights.is_file() else self.newest_checkpoint()

    def read_done(self) -> dict[str, Any] | None:
        """The summary in ``done.json``, ``None`` when there is none; ``ValueError`` naming the file
        when it is not a JSON object."""
        if not self.done.is_file():
            return None
        done, reason = parse_done(self.done.read_bytes())
        if done is None:
            raise ValueError(f"{self.done}: damaged stage marker ({reason}); delete it and train stage "
                             f"{self.name!r} again to finish it from its newest checkpoint, if it has one")
        return done

    def mark_done(self, summary: dict[str, Any]) -> None:
        """Publish ``done.json``: ``summary``, plus ``weights_sha256`` when the final weights exist."""
        if self.weights.is_file():
            summary = {**summary, "weights_sha256": sha256_file(self.weights)}
        write_text_atomic(self.done, json.dumps(summary, indent=2))

    def checked_weights(self) -> Path | None:
        """The final weights (``None`` when there are none), after checking them against the sha256
        ``done.json`` recorded; ``ValueError`` naming both files when they differ."""
        if not self.weights.is_file():
            return None
        expected = (self.read_done() or {}).get("weights_sha256")
        if expected is not None and sha256_file(self.weights) != expected:
            raise ValueError(f"{self.weights}: damaged final weights of stage {self.name!r} (their sha256 differs from "
                             f"{self.done}); delete both files and train stage {self.name!r} again (the whole "
                             f"recipe, or --stage {self.name}) to write them from its newest checkpoint")
        return self.weights

    def remove_checkpoint(self, path: Path) -> None:
        """Delete a checkpoint (a file or a sharded folder) and its checksum file."""
        remove(path)
        checksum_path(path).unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget the stage's progress (checkpoints, ``latest``, ``done.json``, temporaries) so it
        trains from its start."""
        for _, path in self.checkpoints():
            self.remove_checkpoint(path)
        for path in (self.latest, self.done):
            path.unlink(missing_ok=True)
        remove_temporaries(self.folder)

    def read_history(self) -> list[dict[str, Any]]:
        if not self.history.is_file():
            return []
        return [json.loads(line) for line in self.history.read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class RunLayout:
    """A run folder and its stages in recipe order."""

    run_dir: Path
    stages: tuple[str, ...]

    @classmethod
    def of(cls, recipe) -> "RunLayout":
        """The layout of a :class:`~vlmkit.config.Recipe` (its ``trainer.run_dir`` and stages)."""
        return cls(Path(recipe.trainer.run_dir), tuple(recipe.stages))

    def stage(self, name: str) -> StageDir:
        return StageDir(self.run_dir / name)

    def check_stage(self, name: str, recipe_name: str) -> str:
        """``name`` when it is a stage of the run, else ``ValueError`` listing the stages."""
        if name not in self.stages:
            raise ValueError(f"--stage {name!r} is not a stage of recipe {recipe_name!r}; stages: {', '.join(self.stages)}")
        return name

    def previous(self, name: str) -> str | None:
        """The stage before ``name`` (whose final weights ``name`` starts from), ``None`` for the first."""
        index = self.stages.index(name)
        return self.stages[index - 1] if index > 0 else None

    def finished_stages(self) -> list[str]:
        return [name for name in self.stages if self.stage(name).finished]

    def last_finished(self) -> str | None:
        finished = self.finished_stages()
        return finished[-1] if finished else None

    def newest_weights(self) -> Path | None:
        """The last finished stage's final weights, else the newest checkpoint of the last stage that has one."""
        last = self.last_finished()
        if last is not None and self.stage(last).weights.is_file():
            return self.stage(last).weights
        return next((p for name in reversed(self.stages) if (p := self.stage(name).newest_checkpoint())), None)


def read_history(run_dir: str | os.PathLike, stages: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """All history rows of a run, stage by stage (``stages`` gives the order; default: folders by name)."""
    run_dir = Path(run_dir)
    names: Sequence[str] = list(stages) if stages is not None else sorted(
        p.name for p in run_dir.iterdir() if (p / HISTORY).is_file())
    return [row for name in names for row in StageDir(run_dir / name).read_history()]
