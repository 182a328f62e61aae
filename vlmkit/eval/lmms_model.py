"""The ``vlmkit`` model of lmms-eval: :class:`~vlmkit.eval.lmms_bridge.LMMSBridge` as an
``lmms_eval.api.model.lmms``. Imported by lmms-eval only (it needs the ``lmms`` extra)."""

from __future__ import annotations

from typing import Any

from lmms_eval.api.model import lmms

from vlmkit.eval.lmms_bridge import LMMSBridge


class VlmkitLMMS(LMMSBridge, lmms):
    """``--model vlmkit --model_args pretrained=OUT[,device=cuda,dtype=bf16,max_new_tokens=N,chat_template=NAME]``."""

    def __init__(self, pretrained: str | None = None, **options: Any) -> None:
        lmms.__init__(self)
        LMMSBridge.__init__(self, pretrained, **options)
