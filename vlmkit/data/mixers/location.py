"""Where a dataset's shards live, in the terms of a Streaming ``Stream``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vlmkit.config import DatasetConfig


def stream_location(cfg: "DatasetConfig") -> dict[str, Any]:
    """``remote``/``local``/``split`` keyword arguments for ``streaming.Stream``.

    A plain folder in ``remote`` with no ``local`` is read in place (no copy); an object-store URI
    (``s3://...``) is cached in ``local`` (or a temporary folder Streaming picks).
    """
    if cfg.remote is None and cfg.local is None:
        raise ValueError(f"dataset {cfg.name or ''!r} has neither 'remote' nor 'local'; say where its shards are")
    remote, local = cfg.remote, cfg.local
    if remote is not None and "://" not in remote and local is None:
        remote, local = None, remote
    return {"remote": remote, "local": local, "split": cfg.split}
