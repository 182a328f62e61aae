"""The export-format conformance suite applied to the built-in formats."""

from tiny_hf import hf_vlm
from vlmkit.testing import ExportFormatConformance


class TestVlmkitFormat(ExportFormatConformance):
    factory = "vlmkit"


class TestLlavaHFFormat(ExportFormatConformance):
    factory = "llava-hf"

    def model(self, tmp_path):
        return hf_vlm(tmp_path / "parts")  # Llava expresses a CLIP tower, an MLP and a Llama, not tiny_vit
