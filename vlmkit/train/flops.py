"""Model FLOPs of a training step, aware of what is frozen (for MFU and ``vlmkit plan``).

Formula (per batch of ``B`` rows of ``L`` tokens holding ``N`` images)::

    train_flops = m_v * N * F_v  +  m_p * N * F_p  +  B * L * (sum_i m_i * 2 * P_i  +  sum_l a_l * 4 * d_attn * L)
                  -  B * (L - K) * m_h * 2 * P_h

- ``F_v``, ``F_p``: forward FLOPs of one image through the vision encoder and the projector,
  counted once with :class:`torch.utils.flop_counter.FlopCounterMode` on meta tensors (exact for
  convolutions too); when that fails, ``2 x matmul parameters x tokens``.
- ``P_i``: the weights of each ``nn.Linear`` of the LLM (the LM head included, the embedding table
  not); ``4 * d_attn * L`` per token and layer ``l`` is the attention score and value products
  (PaLM's convention, full ``L x L`` as computed with an explicit packed mask).
- ``m`` is a training multiplier: 3 for trainable weights (forward, input gradients, weight
  gradients), 2 for frozen weights that gradients still pass through (a frozen LLM under a
  trainable projector: backward runs for input gradients), 1 for frozen weights with nothing
  trainable before them (forward only, without autograd: a frozen vision encoder, or the first
  decoder layers when only the last ones train). The LLM is walked in module order, so
  ``llm_trainable_layers`` is accounted layer by layer.
- ``a_l``, attention's multiplier in layer ``l``, is 3 when gradients pass through that layer
  (attention has no weights, so its backward costs the same whether the layer trains or not), else 1.
- The last term removes the LM head (``P_h``, multiplier ``m_h``) where no logits are computed: in
  training the VLM computes them only at the ``K`` positions that predict a target
  (``targets_only``); ``K = L`` otherwise.

Checked against :func:`counted_flops` of real training steps in ``tests/train/test_flops.py``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from vlmkit.model.llm.base import AttentionShape

ORDER = ("vision_encoder", "projector", "llm")


def multipliers(trainable: dict[str, bool]) -> dict[str, int]:
    """``{part: 3 | 2 | 1}`` from ``{part: trainable}`` following the data flow vision -> projector -> llm."""
    out, upstream = {}, False
    for part in ORDER:
        if trainable.get(part, False):
            out[part], upstream = 3, True
        else:
            out[part] = 2 if upstream else 1
    return out


def linear_params(module: nn.Module) -> int:
    """Weights of every ``nn.Linear`` (each module once; a tied LM head still counts as a matmul)."""
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear))


def _sdpa_forward(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """Score and value products of attention, from shapes ``[B, H, Lq, D]`` / ``[B, H, Lk, D]``."""
    b, h, lq, d = query
    return 4 * b * h * lq * key[-2] * d


def _sdpa_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return 2 * _sdpa_forward(query, key, value)


def counted_flops(fn, *args, **kwargs) -> tuple[float, object]:
    """Run ``fn(*args, **kwargs)`` under a FLOP counter; ``(flops, result)``. Also counts the CPU
    flash-attention kernels, which :class:`FlopCounterMode` does not know."""
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    extra = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        extra[aten._scaled_dot_product_flash_attention_for_cpu] = _sdpa_forward
        extra[aten._scaled_dot_product_flash_attention_for_cpu_backward] = _sdpa_backward
    with FlopCounterMode(display=False, custom_mapping=extra) as counter:
        result = fn(*args, **kwargs)
    return float(counter.get_total_flops()), result


def meta_forward_flops(module: nn.Module, input_shape: tuple[int, ...]) -> float | None:
    """Forward FLOPs of ``module`` on a meta input of ``input_shape``; ``None`` if it cannot run on meta."""
    from torch.func import functional_call

    state = {k: torch.empty_like(v, device="meta") for k, v in (*module.named_parameters(), *module.named_buffers())}
    try:
        with torch.no_grad():
            flops, _ = counted_flops(functional_call, module, state, (torch.empty(input_shape, device="meta"),))
    except Exception:  # a forward that needs real data (or device-specific code) cannot be counted on meta
        return None
    return flops


def llm_attention_shape(llm) -> tuple[int, int]:
    """``(n_layers, d_attn)`` from ``llm.attention_shape()``; ``(0, 0)`` when unknown (attention
    not counted). A plain ``(n_layers, d_attn)`` pair, the old form, still counts with a warning."""
    shape = llm.attention_shape()
    if shape is None:
        return 0, 0
    if not isinstance(shape, AttentionShape):
        warnings.warn(f"{type(llm).__name__}.attention_shape() returned {shape!r}; return a "
                      "vlmkit.model.llm.base.AttentionShape(layers, heads, kv_heads, head_dim)", DeprecationWarning, stacklevel=2)
        return int(shape[0]), int(shape[1])
    return shape.layers, shape.width


@dataclass
class FlopModel:
    """Forward costs and training multipliers of one model in one stage; see the module docstring.

    ``llm_linear_weighted`` is ``sum_i m_i * P_i``; ``llm_grad_layers`` the layers gradients pass
    through (``a_l = 3``) out of ``llm_layers``; ``llm_head_weighted`` is ``m_h * P_h``.
    """

    vision_per_image: float
    projector_per_image: float
    llm_linear_params: int
    llm_layers: int
    llm_attn_width: int
    mult: dict[str, int] = field(default_factory=dict)
    llm_linear_weighted: float = 0.0
    llm_grad_layers: float = 0.0
    llm_head_weighted: float = 0.0

    def llm_linear(self, rows: int, length: int) -> float:
        return 2.0 * self.llm_linear_params * rows * length

    def llm_attention(self, rows: int, length: int) -> float:
        return 4.0 * self.llm_layers * self.llm_attn_width * rows * length * length

    def llm_forward(self, rows: int, length: int) -> float:
        return self.llm_linear(rows, length) + self.llm_attention(rows, length)

    def train_flops(self, rows: int, length: int, images: float, logit_positions: int | None = None) -> float:
        """Training FLOPs of a batch of ``rows x length`` tokens with ``images`` images, with logits
        at ``logit_positions`` positions per row (all ``length`` when None)."""
        attention = self.llm_attention(rows, length)
        attention_weighted = attention * (1 + 2 * self.llm_grad_layers / self.llm_layers) if self.llm_layers else 0.0
        skipped = 0 if logit_positions is None else length - logit_positions
        return (
            self.mult["vision_encoder"] * images * self.vision_per_image
            + self.mult["projector"] * images * self.projector_per_image
            + 2.0 * self.llm_linear_weighted * rows * length
            - 2.0 * self.llm_head_weighted * rows * skipped
            + attention_weighted
        )

    def forward_flops(self, rows: int, length: int, images: int) -> float:
        return images * (self.vision_per_image + self.projector_per_image) + self.llm_forward(rows, length)

    def batch_flops(self, batch: dict, image_token_id: int | None = None) -> float:
        """Training FLOPs of a batch dict (see :mod:`vlmkit.model.splice`); given the model's
        ``image_token_id``, with logits only at target positions (``targets_only``)."""
        from vlmkit.model.splice import mask_image_labels, shift_targets, target_positions

        rows, length = batch["input_ids"].shape
        pixels = batch.get("pixel_values")
        keep = None
        if image_token_id is not None and batch.get("labels") is not None:
            labels = mask_image_labels(batch["labels"], batch["input_ids"], image_token_id)
            keep = len(target_positions(shift_targets(labels, batch.get("position_ids"))))
        return self.train_flops(rows, length, 0 if pixels is None else int(pixels.shape[0]), keep)


def image_shape(model) -> tuple[int, int, int, int]:
    size = model.image_transform.size
    return (1, 3, size, size)


def llm_walk(llm: nn.Module, flowing: bool, layers: int) -> tuple[float, float, float]:
    """``(sum_i m_i * P_i, layers with gradient flow, m_h * P_h)`` walking ``llm`` in module order;
    ``flowing``: gradients arrive from a trainable part before the LLM. The flow count is scaled to
    ``layers``; ``P_h`` is the LM head's (``llm.lm_head``), 0 when unknown. Layers are ``llm.layers()``."""
    stack = set(llm.layers())
    head = llm.lm_head
    weighted, flow, head_weighted = 0.0, [], 0.0
    for m in llm.modules():
        if m in stack:
            flow.append(flowing or any(p.requires_grad for p in m.parameters()))
        if isinstance(m, nn.Linear):
            if m.weight.requires_grad:
                term, flowing = 3 * m.weight.numel(), True
            else:
                term = (2 if flowing else 1) * m.weight.numel()
            weighted += term
            head_weighted += term if m is head else 0.0
    share = sum(flow) / len(flow) if flow else float(flowing)
    return weighted, share * layers, head_weighted


def flop_model(model) -> FlopModel:
    """A :class:`FlopModel` of a ``VisionLanguageModel`` (real or on the meta device), for the
    parameters that currently require gradients."""
    trainable = {name: any(p.requires_grad for p in part.parameters()) for name, part in model.parts().items()}
    vision, projector = model.vision_encoder, model.projector
    f_v = meta_forward_flops(vision, image_shape(model))
    if f_v is None:
        f_v = 2.0 * linear_params(vision) * vision.num_tokens
    f_p = meta_forward_flops(projector, (1, vision.num_tokens, vision.hidden_size))
    if f_p is None:
        f_p = 2.0 * linear_params(projector) * vision.num_tokens
    layers, width = llm_attention_shape(model.llm)
    mult = multipliers(trainable)
    weighted, grad_layers, head = llm_walk(model.llm, mult["projector"] > 1, layers)
    return FlopModel(f_v, f_p, linear_params(model.llm), layers, width, mult, weighted, grad_layers, head)
