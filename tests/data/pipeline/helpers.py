"""Small helpers shared by the pipeline tests."""

from __future__ import annotations

from vlmkit.data.tokenize import SampleEncoder

K = 2  # image tokens per image in these tests


def encoder(tok, template: str = "chatml", **kwargs) -> SampleEncoder:
    return SampleEncoder(tok, image_token_id=tok.convert_tokens_to_ids("<image>"), num_image_tokens=K, chat_template=template, **kwargs)


def mask(sample: dict, image_token_id: int) -> str:
    """One character per position: ``I`` image placeholder, ``1`` carries loss, ``.`` no loss."""
    return "".join(
        "I" if t == image_token_id else ("1" if lab != -100 else ".")
        for t, lab in zip(sample["input_ids"], sample["labels"])
    )


def tagged(tok, sample: dict) -> list[tuple[str, bool]]:
    """``(token, carries loss)`` per position."""
    return [(t, lab != -100) for t, lab in zip(tok.convert_ids_to_tokens(sample["input_ids"]), sample["labels"])]
