"""Conformance suite for export-format plugins (contract: :mod:`vlmkit.export.api`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from vlmkit.testing.base import Conformance, seeded
from vlmkit.testing.tiny_vlm import vlm_batch

TINY_MODEL = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}}
SOURCE = {"recipe": "conformance", "weights": "none"}


class ExportFormatConformance(Conformance):
    """Checks an export writer ``factory(model, model_config, out, overwrite=..., source=...)``: it
    writes the folder ``out`` and returns its path, refuses an existing ``out`` unless
    ``overwrite`` (then replaces it, nothing stale left), and, when ``loads_back``, the folder
    reloads with ``vlmkit.from_pretrained`` into a model giving the same logits. Example::

        class TestGGUF(ExportFormatConformance):
            factory = export_gguf
            registered_name = "acme_gguf"
            loads_back = False   # vlmkit cannot read it back
    """

    kind: ClassVar[str] = "export_formats"
    #: The ``model:`` recipe section of the model exported (its components must allow the format).
    model_spec: ClassVar[dict[str, Any]] = TINY_MODEL
    loads_back: ClassVar[bool] = True

    def model(self, tmp_path: Path) -> tuple[Any, Any]:
        """``(VisionLanguageModel, ModelConfig)`` to export, weights seeded and in eval mode."""
        from vlmkit.config import ModelConfig
        from vlmkit.model.vlm import build_vlm

        config = ModelConfig.model_validate(self.model_spec)
        return seeded(0, lambda: build_vlm(config)).eval(), config

    def write(self, model: Any, config: Any, out: Path, overwrite: bool = False) -> Any:
        return self.resolve_factory()(model, config, out, overwrite=overwrite, source=dict(SOURCE))

    def test_writes_the_folder_it_returns(self, tmp_path) -> None:
        model, config = self.model(tmp_path)
        out = tmp_path / "export"
        returned = self.write(model, config, out)
        assert Path(returned) == out, f"the writer returned {returned!r}, not the folder it was given ({out})"
        files = [f for f in out.rglob("*") if f.is_file()]
        assert out.is_dir() and any(f.stat().st_size > 0 for f in files), f"{out} holds no written file"

    def test_refuses_an_existing_folder_unless_overwrite(self, tmp_path) -> None:
        model, config = self.model(tmp_path)
        out = tmp_path / "export"
        out.mkdir()
        (out / "stale.txt").write_text("from an earlier export")
        try:
            self.write(model, config, out)
        except (ValueError, FileExistsError):
            pass
        else:
            raise AssertionError(f"the writer replaced the existing {out} without overwrite=True")
        assert (out / "stale.txt").is_file(), "a refused export must leave the existing folder alone"
        self.write(model, config, out, overwrite=True)
        assert not (out / "stale.txt").exists(), "overwrite=True must replace the folder, not add to it"

    def test_reloads_to_the_same_logits(self, tmp_path) -> None:
        import pytest

        from vlmkit.export import from_pretrained

        if not self.loads_back:
            pytest.skip(f"{type(self).__name__}.loads_back is False: vlmkit does not read this format back")

        model, config = self.model(tmp_path)
        self.write(model, config, tmp_path / "export")
        loaded = from_pretrained(tmp_path / "export").eval()
        batch = vlm_batch(model)
        with torch.no_grad():
            torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits, atol=self.atol, rtol=1e-4)
