"""``SampleEncoder``: one MDS sample (kind, content, images) -> ``{"input_ids", "labels", "images"}``.

Also the prompt encoder for generation and evaluation (:meth:`SampleEncoder.encode_prompt`), which
goes through the very same rendering and tokenization as training.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from vlmkit.data.tokenize.chat_templates.base import ChatTemplate, bos_text
from vlmkit.data.tokenize.context import RenderContext, SampleError, parse_options
from vlmkit.data.tokenize.core import Rendered, drop_markers, marker_positions, tokenize_rendered, truncate, with_markers
from vlmkit.data.tokenize.pieces import PieceTokenizer

if TYPE_CHECKING:
    from vlmkit.data.kinds import SampleKind


class SampleEncoder:
    """Tokenizes samples for one model.

    ``tokenizer``: a fast Hugging Face tokenizer; ``image_token_id``/``num_image_tokens``: the
    placeholder id and run length (``model.image_token_id``, ``model.num_image_tokens``);
    ``chat_template``: registered name or a :class:`ChatTemplate`; ``max_seq_len``: truncation
    length (``None`` = none); ``max_images``: images kept per sample unless a dataset option says
    otherwise (``None`` = all).
    """

    def __init__(
        self,
        tokenizer,
        *,
        image_token_id: int,
        num_image_tokens: int,
        chat_template: str | ChatTemplate = "tokenizer",
        max_seq_len: int | None = None,
        max_images: int | None = None,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("vlmkit needs a fast tokenizer (character offsets); load it with use_fast=True")
        if num_image_tokens < 1:
            raise ValueError(f"num_image_tokens must be at least 1, got {num_image_tokens}")
        self.tokenizer = tokenizer
        self.image_token_id = int(image_token_id)
        self.num_image_tokens = int(num_image_tokens)
        self.max_seq_len = max_seq_len
        self.max_images = max_images
        self._template = chat_template
        self.pieces = PieceTokenizer(tokenizer)  # caches repeated template pieces
        self.context = RenderContext(bos_text(tokenizer), tokenizer.eos_token or "", lambda: self.chat_template)
        self._kinds: dict[str, "SampleKind"] = {}

    @classmethod
    def for_model(cls, model, chat_template: str | ChatTemplate = "tokenizer", **kwargs: Any) -> "SampleEncoder":
        """An encoder for a :class:`~vlmkit.model.vlm.VisionLanguageModel` (its tokenizer, image token, K)."""
        return cls(
            model.tokenizer,
            image_token_id=model.image_token_id,
            num_image_tokens=model.num_image_tokens,
            chat_template=chat_template,
            **kwargs,
        )

    @cached_property
    def chat_template(self) -> ChatTemplate:
        if isinstance(self._template, ChatTemplate):
            return self._template
        from vlmkit.data.tokenize.chat_templates import get_chat_template

        return get_chat_template(self._template, self.tokenizer)

    @cached_property
    def bos_ids(self) -> list[int]:
        """Ids the encoder puts at the start of every pairs/interleaved/text sample."""
        return self.tokenizer(self.context.bos, add_special_tokens=False)["input_ids"] if self.context.bos else []

    def kind(self, name: str) -> "SampleKind":
        """The registered sample kind ``name`` (``ValueError`` listing the registered ones)."""
        if name not in self._kinds:
            from vlmkit.data.kinds import sample_kind

            self._kinds[name] = sample_kind(name)
        return self._kinds[name]

    def options(self, kind: str, options: Mapping[str, Any] | None = None) -> Any:
        """The parsed options of ``kind`` (raises ``ValueError`` on an unknown kind or key)."""
        return parse_options(self.kind(kind).Options, kind, options)

    def encode(self, kind: str, content: Mapping[str, Any], images: Sequence[Any] = (), options: Any = None) -> dict:
        """``{"input_ids": list[int], "labels": list[int], "images": list}`` for one sample.

        ``options``: a mapping or the result of :meth:`options`. Raises ``ValueError`` for a
        malformed sample (counted and skipped by the loader).
        """
        sample_kind = self.kind(kind)
        if not isinstance(options, sample_kind.Options):
            options = self.options(kind, options)
        rendered = sample_kind.render(content, len(images), self.context, options)
        cap = sample_kind.max_images(options)
        return self._tokenize(rendered, images, self.max_images if cap is None else cap, self.max_seq_len)

    def encode_prompt(
        self, messages: Sequence[Mapping[str, str]], images: Sequence[Any] = (), *, add_generation_prompt: bool = True
    ) -> list[int]:
        """Input ids of a chat prompt for generation: the template's rendering with the assistant
        header appended, each image a run of placeholders. ``messages`` use ``<image>`` markers
        (prepended to the first user message when absent). Not truncated; images are not capped."""
        messages = with_markers(messages, len(images))
        chat = self.chat_template.render(messages, add_generation_prompt=add_generation_prompt)
        rendered = Rendered(chat.text, (), tuple(range(len(images))))
        return self._tokenize(rendered, images, None, None)["input_ids"]

    def _tokenize(self, rendered: Rendered, images: Sequence[Any], cap: int | None, max_len: int | None) -> dict:
        if len(marker_positions(rendered.text)) != len(rendered.image_order):
            raise SampleError(
                "image_marker_mismatch",
                f"the text holds {len(marker_positions(rendered.text))} <image> marker(s) for "
                f"{len(rendered.image_order)} image(s); '<image>' is reserved for images"
            )
        if cap is not None and len(rendered.image_order) > cap:
            rendered = drop_markers(rendered, cap)
        ids, labels = tokenize_rendered(
            self.tokenizer, rendered, image_token_id=self.image_token_id, num_image_tokens=self.num_image_tokens,
            pieces=self.pieces,
        )
        sample = {"input_ids": ids, "labels": labels, "images": [images[i] for i in rendered.image_order]}
        if max_len is not None:
            sample = truncate(sample, max_len, self.image_token_id, self.num_image_tokens)
        return sample
