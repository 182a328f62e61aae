"""The one cache builder (vlmkit.storage.cache): atomic, built once under a lock on the parent
folder (no lock file left), shared 0755 folders, a completion rule per cache; the cache root."""

import stat
import threading
import time

import pytest

from vlmkit.storage.cache import build_once, cache_root


def race(target, filename: str, *args, threads: int = 3) -> list:
    """``build_once(target, build, *args)`` from ``threads`` threads at once, where ``build`` takes
    0.2 s to write ``filename``; returns the folders ``build`` was called with."""
    calls = []

    def build(folder):
        calls.append(folder)
        time.sleep(0.2)
        (folder / filename).write_text("ok")

    running = [threading.Thread(target=build_once, args=(target, build, *args)) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    return calls


def test_build_once_builds_once_under_concurrency(tmp_path):
    target = tmp_path / "model"
    calls = race(target, "weights.bin")
    assert len(calls) == 1
    assert (target / "weights.bin").read_text() == "ok"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["model"]


def test_failed_build_leaves_nothing_behind(tmp_path):
    def build(folder):
        (folder / "half.bin").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_once(tmp_path / "model", build)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_a_completion_rule_decides_and_only_the_result_is_left(tmp_path):
    target = tmp_path / "set"
    target.mkdir()  # an empty folder is not a built dataset
    calls = race(target, "index.json", lambda p: (p / "index.json").is_file())
    assert len(calls) == 1 and (target / "index.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no lock file, no temporary
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # shared like any cache folder, not mkdtemp's 0700


def test_the_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VLMKIT_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.setenv("VLMKIT_CACHE", "")
    assert cache_root().parts[-2:] == (".cache", "vlmkit")
