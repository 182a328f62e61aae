"""A run folder mirrored on an object store (``trainer.remote_run_dir: s3://bucket/prefix``).

Each stage folder ``run_dir/<stage>/`` has a copy under ``<remote_run_dir>/<stage>/`` holding the
same published files (see :mod:`vlmkit.train.checkpoint`); the local folder stays the working copy.

- **Upload order keeps the copy consistent.** A checkpoint's checksum file goes up before the
  checkpoint (a sharded folder's ``manifest.sha256`` after its shards), and a finished stage's
  weights and ``history.jsonl`` before its ``done.json``; an object-store PUT is whole or absent, so
  a listed ``ba{N}.pt`` always has its checksum, a listed manifest its shards, and a listed
  ``done.json`` its weights. After every save the remote checkpoints follow the local ones (new
  ones uploaded, pruned ones deleted), as :class:`RemoteMirror` on rank 0.
- **Resuming on an empty machine** (:func:`fetch_checkpoints`, rank 0): remote checkpoints newer
  than the newest local one are downloaded newest first, each to a temporary name then renamed,
  until one is intact; :func:`vlmkit.train.resume.choose` then checks them exactly as local ones
  (same checksum check, same never-unpickle loading). A damaged one is deleted from the store (its
  bytes stay in ``ba{N}.pt.damaged`` beside the local folder) and the next older is tried.
- **A finished stage is not trained again** (:func:`fetch_finished`): its ``done.json`` and weights
  are downloaded and the weights' sha256 checked against the marker.

Only ``s3://`` (Amazon S3 and S3-compatible stores through ``S3_ENDPOINT_URL``) is supported;
credentials come from boto3's usual places (``AWS_*`` variables, ``~/.aws``, instance roles).
Uploads run in the training loop, so a save takes as long as its upload.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from vlmkit.storage import atomic
from vlmkit.storage.layout import CHECKPOINT, CHECKSUM, DONE, HISTORY, WEIGHTS, StageDir, checksum_path, parse_done
from vlmkit.train.sharded import MANIFEST

if TYPE_CHECKING:
    from vlmkit.config import Recipe

log = logging.getLogger(__name__)

FIXES = {  # botocore error name or S3 error code -> what to do
    "NoCredentialsError": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the store",
    "PartialCredentialsError": "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "NoSuchBucket": "create the bucket, or fix trainer.remote_run_dir",
    "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID (and S3_ENDPOINT_URL for an S3-compatible store)",
    "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY",
    "AccessDenied": "give these credentials read, write, list and delete access to the prefix",
    "EndpointConnectionError": "check S3_ENDPOINT_URL and the network",
}


class RemoteFolder:
    """One stage folder on the store: ``uri`` is ``s3://bucket/prefix/<stage>``; object names are
    relative to it (``ba4.pt``, ``ba4/.metadata``). Every store error is a one-line ``ValueError``."""

    def __init__(self, uri: str) -> None:
        from composer.utils import parse_uri
        from composer.utils.object_store import S3ObjectStore

        _, bucket, path = parse_uri(uri)
        self.uri = uri.rstrip("/")
        with self.errors("cannot open"):
            self.store = S3ObjectStore(bucket=bucket, prefix=path)

    @contextlib.contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn a store failure into ``ValueError("<uri>: <what> (<reason>); <fix>")``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            code = exc.response["Error"].get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
            fix = FIXES.get(code, "check trainer.remote_run_dir and the store's credentials")
            reason = str(exc).splitlines()[0] if str(exc) else code
            raise ValueError(f"trainer.remote_run_dir {self.uri}: {what} ({reason}); {fix}") from None

    def sizes(self) -> dict[str, int]:
        """``{name: bytes}`` of every object under the folder."""
        client, bucket, prefix = self.store.client, self.store.bucket, self.store.get_key("")
        with self.errors("cannot list it"):
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return {o["Key"][len(prefix):]: o["Size"] for page in pages for o in page.get("Contents", [])}

    def upload(self, local: Path, name: str) -> None:
        with self.errors(f"cannot upload {name}"):
            self.store.upload_object(name, local)

    def download(self, name: str, local: Path) -> None:
        """Download ``name`` to ``local`` (written under a temporary name, then renamed)."""
        local.parent.mkdir(parents=True, exist_ok=True)
        with self.errors(f"cannot download {name}"):
            atomic.write_atomic(local, lambda tmp: self.store.download_object(name, tmp, overwrite=True))

    def delete(self, names: list[str]) -> None:
        """Delete ``names``, in this order."""
        with self.errors("cannot delete old checkpoints"):
            for name in names:
                self.store.client.delete_object(Bucket=self.store.bucket, Key=self.store.get_key(name))


def stage_uri(recipe: "Recipe", stage: str) -> str | None:
    root = recipe.trainer.remote_run_dir
    return f"{root.rstrip('/')}/{stage}" if root else None


def files_of(path: Path) -> list[str]:
    """Object names of a published checkpoint ``path`` (a ``ba{N}.pt`` or a sharded ``ba{N}/``), in
    upload order: the file that vouches for the others last."""
    if path.is_dir():
        inside = sorted(n for n in os.listdir(path) if n != MANIFEST)
        return [f"{path.name}/{n}" for n in inside] + [f"{path.name}/{MANIFEST}"]
    return [checksum_path(path).name, path.name]


def remote_checkpoints(sizes: dict[str, int]) -> dict[int, list[str]]:
    """``{batch: object names}`` of the checkpoints listed in ``sizes``, complete or not."""
    found: dict[int, list[str]] = {}
    for name in sizes:
        head = name.split("/", 1)[0]
        stem = head.removesuffix(CHECKSUM)
        if (m := CHECKPOINT.match(stem)) and (head == stem or stem.endswith(".pt")):
            found.setdefault(int(m.group(1)), []).append(name)
    return found


def vouches(name: str) -> bool:
    """Whether ``name`` is the object uploaded last for its checkpoint (``ba{N}.pt`` or ``ba{N}/manifest.sha256``):
    when it is listed, the checkpoint's upload finished."""
    return bool(CHECKPOINT.match(name)) and name.endswith(".pt") or name.endswith(f"/{MANIFEST}")


def deletion_order(names: list[str]) -> list[str]:
    """The reverse of upload order: what vouches for a checkpoint goes first."""
    return sorted(names, key=lambda name: not vouches(name))


class RemoteMirror(Callback):
    """Keeps ``remote`` (a :class:`RemoteFolder`) a copy of the stage folder ``folder``'s
    checkpoints, on rank 0: at the start of training the stage's ``done.json`` and any checkpoint
    newer than the one resumed from are deleted there (left by an earlier run), and after each save
    new checkpoints are uploaded and pruned ones deleted. Place it after the checkpoint saver."""

    def __init__(self, folder: str | os.PathLike, remote: RemoteFolder) -> None:
        self.folder = Path(folder)
        self.remote = remote
        self.seen: list[tuple[int, Path]] | None = None

    def fit_start(self, state: State, logger: Logger) -> None:
        if dist.get_global_rank() == 0:
            self.remote.delete([DONE])
            self.sync(stale_after=int(state.timestamp.batch))

    def batch_checkpoint(self, state: State, logger: Logger) -> None:
        self._maybe_sync()

    def epoch_checkpoint(self, state: State, logger: Logger) -> None:
        self._maybe_sync()

    def fit_end(self, state: State, logger: Logger) -> None:
        self._maybe_sync()

    def _maybe_sync(self) -> None:
        if dist.get_global_rank() == 0 and StageDir(self.folder).checkpoints() != self.seen:
            self.sync()

    def sync(self, stale_after: int | None = None) -> None:
        """Upload local checkpoints the store lacks (or holds with other sizes); delete remote ones
        that are not local (``stale_after``: only those newer than that batch)."""
        local = StageDir(self.folder).checkpoints()
        sizes = self.remote.sizes()
        for _, path in local:
            names = files_of(path)
            if any(sizes.get(n) != (self.folder / n).stat().st_size for n in names):
                for name in names:
                    self.remote.upload(self.folder / name, name)
        kept = {batch for batch, _ in local}
        for batch, names in remote_checkpoints(sizes).items():
            if batch not in kept and (stale_after is None or batch > stale_after):
                self.remote.delete(deletion_order(names))
        self.seen = local

    def push_finished(self) -> None:
        """Upload the stage's final weights and history, then its ``done.json`` (rank 0)."""
        for name in (WEIGHTS, HISTORY, DONE):
            if (self.folder / name).is_file():
                self.remote.upload(self.folder / name, name)


def fetch_checkpoints(folder: Path, remote: RemoteFolder) -> None:
    """Rank 0, before choosing the checkpoint to resume from: download remote checkpoints newer than
    the newest local one, newest first, until one is intact (damaged ones are deleted from the store
    and left locally for :func:`~vlmkit.train.resume.choose` to set aside)."""
    from vlmkit.train.resume import damage

    local = StageDir(folder).checkpoints()
    newest_local = local[-1][0] if local else -1
    listed = remote_checkpoints(remote.sizes())
    for batch in sorted((b for b, names in listed.items() if b > newest_local and any(map(vouches, names))), reverse=True):
        path = download_checkpoint(folder, remote, listed[batch])
        reason = damage(path)
        if reason is None:
            log.info("downloaded %s/%s to resume from", remote.uri, path.name)
            return
        remote.delete(deletion_order(listed[batch]))
        log.warning("%s/%s is damaged (%s); deleted it from the store, trying the one before it", remote.uri, path.name, reason)


def download_checkpoint(folder: Path, remote: RemoteFolder, names: list[str]) -> Path:
    """Download one remote checkpoint's objects ``names`` into ``folder``; a sharded folder is filled
    under a temporary name and renamed whole. Returns the local checkpoint."""
    head = names[0].split("/", 1)[0].removesuffix(CHECKSUM)
    if "/" not in names[0]:
        for name in sorted(names, key=len, reverse=True):  # the checksum file first, as it was published
            remote.download(name, folder / name)
        return folder / head
    tmp = atomic.temporary(folder / head)
    for name in names:
        remote.download(name, tmp / name.split("/", 1)[1])
    atomic.publish_folder(tmp, folder / head)
    return folder / head


def fetch_finished(recipe: "Recipe", stages: list[str]) -> None:
    """Rank 0 (every rank waits): for each of ``stages`` with no local ``done.json`` and one on the
    store, download its weights and history, check the weights against the marker, then publish the
    marker. ``ValueError`` naming the object when the marker or the weights are damaged."""
    if recipe.trainer.remote_run_dir is None:
        return
    if dist.get_global_rank() == 0:
        for stage in stages:
            folder = Path(recipe.trainer.run_dir) / stage
            if not (folder / DONE).is_file():
                fetch_stage(folder, RemoteFolder(stage_uri(recipe, stage)))
    dist.barrier()


def fetch_stage(folder: Path, remote: RemoteFolder) -> None:
    """Download a finished stage's objects into ``folder`` (nothing when the store has no ``done.json``)."""
    sizes = remote.sizes()
    if DONE not in sizes:
        return
    marker = atomic.temporary(folder / f"remote-{DONE}")
    remote.download(DONE, marker)
    expected = marker_sha256(marker, remote, folder.name)
    for name in (n for n in (WEIGHTS, HISTORY) if n in sizes):
        remote.download(name, folder / name)
    weights = folder / WEIGHTS
    if expected is not None and (not weights.is_file() or atomic.sha256_file(weights) != expected):
        marker.unlink()
        raise ValueError(f"{remote.uri}/{WEIGHTS}: missing or damaged final weights of stage {folder.name!r} (their "
                         f"sha256 differs from {remote.uri}/{DONE}); delete both objects and train stage {folder.name!r} again")
    atomic.publish(marker, folder / DONE)
    log.info("stage %r finished on %s; downloaded its final weights", folder.name, remote.uri)


def marker_sha256(marker: Path, remote: RemoteFolder, stage: str) -> str | None:
    """The weights' sha256 that a downloaded ``done.json`` records; ``ValueError`` when it is not a JSON object."""
    done, reason = parse_done(marker.read_bytes())
    if done is None:
        marker.unlink()
        raise ValueError(f"{remote.uri}/{DONE}: damaged stage marker ({reason}); delete it and train stage "
                         f"{stage!r} again")
    return done.get("weights_sha256")
