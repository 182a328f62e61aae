"""Asset lookup and the atomic, concurrency-safe cache builder."""

import threading
import time

import pytest

from vlmkit.model.assets import package_file, shipped_config, shipped_names
from vlmkit.storage.cache import build_once


def test_build_once_builds_once_under_concurrency(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        time.sleep(0.2)
        (folder / "weights.bin").write_text("ok")

    target = tmp_path / "model"
    threads = [threading.Thread(target=build_once, args=(target, build)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
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


def test_package_file_errors_name_the_install_command():
    with pytest.raises(FileNotFoundError, match="pip install --no-deps no-such-pkg"):
        package_file("no_such_pkg_vlmkit", "x.bin", "no-such-pkg")


def test_shipped_configs_cover_the_vila_models():
    names = set(shipped_names())
    assert {"openai/clip-vit-large-patch14-336", "google/siglip-so400m-patch14-384", "meta-llama/Llama-2-7b-hf",
            "meta-llama/Llama-2-13b-hf", "lmsys/vicuna-7b-v1.5", "lmsys/vicuna-13b-v1.5", "meta-llama/Meta-Llama-3-8B"} <= names
    assert shipped_config("acme/unknown") is None
