"""From samples to tokens with the right loss masks.

``SampleEncoder(tokenizer, image_token_id=, num_image_tokens=, chat_template=)`` (or
``SampleEncoder.for_model(model, chat_template)``):

- ``encode(kind, content, images, options)`` -> ``{"input_ids", "labels", "images"}`` for a
  registered sample kind (:mod:`vlmkit.data.kinds`; content as in :mod:`vlmkit.data.schema`);
  labels are ``-100`` where no loss is taken; each kept image is a run of ``num_image_tokens``
  copies of ``image_token_id``.
- ``encode_prompt(messages, images)`` -> ``input_ids`` of a generation prompt.

Chat templates (registry kind ``chat_templates``) live in :mod:`.chat_templates`.
"""

from vlmkit.data.tokenize.context import SampleError
from vlmkit.data.tokenize.core import Rendered, image_runs, tokenize_rendered, truncate
from vlmkit.data.tokenize.encoder import SampleEncoder
from vlmkit.data.tokenize.join import join_samples


def encode_prompt(model, messages, images=(), *, chat_template: str = "tokenizer") -> list[int]:
    """Generation prompt ids for ``model`` (a VisionLanguageModel): ``messages`` with ``<image>``
    markers (or none: images go first), assistant header appended, image runs expanded."""
    return SampleEncoder.for_model(model, chat_template).encode_prompt(messages, images)


__all__ = [
    "Rendered", "SampleEncoder", "SampleError", "encode_prompt", "image_runs", "join_samples",
    "tokenize_rendered", "truncate",
]
