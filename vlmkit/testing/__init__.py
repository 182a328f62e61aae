"""Conformance kit for component authors: ready-made pytest suites.

Subclass the suite for your component's kind in a ``test_*.py`` file, name the subclass
``Test...``, and point it at your factory::

    from vlmkit.testing import ProjectorConformance
    from acme_vlm.cabs import CAbstractor

    class TestCAbstractor(ProjectorConformance):
        factory = CAbstractor
        kwargs = {"num_queries": 4}
        registered_name = "c_abstractor"

Every suite checks that the registered name resolves. The model-part suites check that declared
shapes and token counts hold, that weights round-trip through safetensors, that frozen parameters
get no gradient, and that the component works inside a tiny VLM forward/backward (partners:
``tiny_vit``, ``mlp``, ``tiny_llama``). The optimizer, scheduler, logger, callback and export-format
suites check their factory contracts (:mod:`vlmkit.train.optim`, :mod:`vlmkit.train.loggers`,
:mod:`vlmkit.export.api`).
:mod:`vlmkit.testing.synthetic` gives file-free batches to smoke-test training
(``run_recipe(recipe, dataloader_factory=synthetic_factory())``).
"""

from vlmkit.testing.base import Conformance, ModuleConformance
from vlmkit.testing.export import ExportFormatConformance
from vlmkit.testing.llm import LLMBackboneConformance
from vlmkit.testing.loggers import CallbackConformance, LoggerConformance
from vlmkit.testing.mixer import DataMixerConformance
from vlmkit.testing.optim import OptimizerConformance, SchedulerConformance
from vlmkit.testing.projector import ProjectorConformance
from vlmkit.testing.tiny_vlm import check_in_tiny_vlm, random_images, vlm_batch
from vlmkit.testing.vision import VisionEncoderConformance

__all__ = [
    "Conformance",
    "ModuleConformance",
    "VisionEncoderConformance",
    "ProjectorConformance",
    "LLMBackboneConformance",
    "DataMixerConformance",
    "OptimizerConformance",
    "SchedulerConformance",
    "LoggerConformance",
    "CallbackConformance",
    "ExportFormatConformance",
    "check_in_tiny_vlm",
    "random_images",
    "vlm_batch",
]
