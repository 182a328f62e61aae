"""An exported folder cannot turn on ``trust_remote_code``: Python shipped in a folder
(``configuration_*.py``, ``modeling_*.py``) runs only when the caller passes
``trust_remote_code=True`` itself, whatever the folder's ``vlmkit_part.json`` says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ecosystem.tiny_hf import hf_vlm
from vlmkit.cli import main
from vlmkit.export.vlmkit_format import export_vlmkit, from_pretrained
from vlmkit.testing import random_images

# A custom Llama whose modules announce themselves by writing a file when imported.
CONFIGURATION = """
import pathlib
pathlib.Path({marker!r}).write_text("configuration ran")
from transformers import LlamaConfig
class EvilConfig(LlamaConfig):
    model_type = "evil_llama"
"""
MODELING = """
import pathlib
pathlib.Path({marker!r}).write_text("modeling ran")
from transformers import LlamaForCausalLM
from .configuration_evil import EvilConfig
class EvilLlama(LlamaForCausalLM):
    config_class = EvilConfig
"""
AUTO_MAP = {"AutoConfig": "configuration_evil.EvilConfig", "AutoModelForCausalLM": "modeling_evil.EvilLlama"}


def plant_code(folder: Path, marker: Path) -> None:
    """Make the HF folder ``folder`` a remote-code model (its config names the shipped modules)."""
    (folder / "configuration_evil.py").write_text(CONFIGURATION.format(marker=str(marker)))
    (folder / "modeling_evil.py").write_text(MODELING.format(marker=str(marker)))
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="evil_llama", auto_map=AUTO_MAP)
    (folder / "config.json").write_text(json.dumps(config))


def edit_part(part: Path, **changes) -> None:
    info = json.loads((part / "vlmkit_part.json").read_text())
    for key, value in changes.items():
        info[key] = {**info[key], **value} if isinstance(value, dict) else value
    (part / "vlmkit_part.json").write_text(json.dumps(info))


@pytest.fixture
def export(tmp_path) -> Path:
    """An export with a Hugging Face LLM; its ``llm/`` part json asks for remote code."""
    model, config = hf_vlm(tmp_path / "src")
    out = export_vlmkit(model, config, tmp_path / "out")
    edit_part(out / "llm", component={"trust_remote_code": True})
    return out


def generate(folder: Path, tmp_path: Path, capsys) -> tuple[int, str]:
    random_images(1, seed=0)[0].save(tmp_path / "image.png")
    capsys.readouterr()
    rc = main(["generate", str(folder), "--image", str(tmp_path / "image.png"), "--prompt", "hi", "--max-new-tokens", "2"])
    return rc, capsys.readouterr().err


def test_shipped_modeling_code_runs_only_with_the_callers_flag(export, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    plant_code(export / "llm", marker)
    rc, err = generate(export, tmp_path, capsys)
    assert not marker.exists()
    assert rc == 1 and err.count("\n") == 1 and f"{export / 'llm'} ships Python model code" in err
    with pytest.raises(ValueError, match="trust_remote_code"):
        from_pretrained(export)
    assert not marker.exists()
    model = from_pretrained(export, trust_remote_code=True)  # the caller's explicit choice
    assert type(model.llm.model).__name__ == "EvilLlama" and marker.exists()


def test_a_rebuilt_part_cannot_enable_remote_code(export, tmp_path, capsys):
    """A part json that rebuilds ``hf_causal_lm`` from a code folder with ``trust_remote_code: true``
    (the route that used to import ``configuration_*.py`` during ``vlmkit generate FOLDER``)."""
    marker = tmp_path / "payload-ran"
    code = tmp_path / "code"
    code.mkdir()
    (code / "config.json").write_text((export / "llm" / "config.json").read_text())
    plant_code(code, marker)
    edit_part(export / "llm", loader="rebuild", component={"name": "hf_causal_lm", "pretrained": str(code), "trust_remote_code": True})
    rc, err = generate(export, tmp_path, capsys)
    assert not marker.exists()
    assert rc == 1 and err.count("\n") == 1 and f"{code} ships Python model code" in err
