"""Regional ``torch.compile``: each repeated block (every vision-encoder block and LLM decoder layer,
found by :func:`vlmkit.train.parallel.blocks`) is compiled in place, not the whole model.

Identical layers share one compiled graph (their weights are graph inputs), so compile time stays
that of one block however deep the model is, and the splice, the loss and data-dependent code stay
eager. Compiling happens lazily at the first forward; FSDP2 and activation checkpointing wrap the
compiled blocks afterwards as they wrap eager ones.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import torch
from torch import nn

from vlmkit.train.parallel import blocks

CompileSetting = bool | Literal["auto"]


def compile_enabled(setting: CompileSetting, device: str) -> bool:
    """``trainer.compile`` resolved for ``device`` (``"cpu"`` or ``"gpu"``): ``auto`` is on for GPUs only."""
    return device == "gpu" if setting == "auto" else bool(setting)


def compile_blocks(model: nn.Module, backend: str = "inductor", **options: Any) -> int:
    """Compile every repeated block of ``model`` in place and return how many.

    Each block class's ``forward`` is compiled once and every block of that class calls it with
    itself as an argument, so identical layers share one graph (their parameters are inputs);
    parameter names, state dicts and module hooks (FSDP2's, checkpointing's) are unchanged and run
    around the compiled code. ``backend`` and ``options`` go to :func:`torch.compile` (tests use
    ``backend="aot_eager"``: the same graphs, no code generation).

    Not ``nn.Module.compile()``: on torch 2.7 it compiles nothing for a block whose ``forward`` is
    torch's own (``nn.TransformerEncoderLayer``: dynamo skips torch's files as the top frame), and
    compiling each bound ``forward`` compiles once per instance (dynamo guards on the function).
    """
    compiled: dict[type, Any] = {}
    found = blocks(model)
    for block in found:
        cls = type(block)
        if cls not in compiled:
            compiled[cls] = torch.compile(cls.forward, backend=backend, **options)
        block.forward = functools.partial(compiled[cls], block)
    return len(found)
