"""MMC4 documents, exactly as the public release lays them out::

    {"url": ..., "text_list": [sentence, ...],
     "image_info": [{"image_name": "a1b2.jpg", "raw_url": ..., "matched_text_index": 3,
                     "matched_sim": 0.27, ("image_base64": ...)}, ...],
     "similarity_matrix": [[sim(image i, sentence j), ...], ...]}

Images are read from the image root by ``image_name`` (or from ``image_base64`` when present).
Each image is placed before its matched sentence, images matched to the same sentence in
``image_info`` order; ``matched_sim`` (or ``similarity_matrix[i][matched_text_index]`` when it is
missing) is kept with the image. Nothing is filtered here: the threshold and the image cap apply
at tokenization. Schema content: ``{"segments": [{"text"} | {"image", "similarity"}, ...]}``.
"""

from __future__ import annotations

from typing import Any

from vlmkit.data.convert.fields import Draft, as_record, first_key, integer, listing, no_markers, number, record_id, text
from vlmkit.data.convert.conversion_report import SkipRecord
from vlmkit.data.convert.sources import Base64Image, ImageResolver, ImageSource


def _similarity(info: dict[str, Any], record: dict[str, Any], i: int, sentence: int) -> float:
    if info.get("matched_sim") is not None:
        return number(info["matched_sim"], f"image_info[{i}].matched_sim")
    matrix = record.get("similarity_matrix")
    try:
        return number(matrix[i][sentence], f"similarity_matrix[{i}][{sentence}]")  # type: ignore[index]
    except (TypeError, IndexError, KeyError):
        raise SkipRecord("missing_field", f"image_info[{i}] has no matched_sim and similarity_matrix lacks it") from None


def _source(info: dict[str, Any], images: ImageResolver, i: int) -> ImageSource:
    if info.get("image_base64") is not None:
        return Base64Image(text(info["image_base64"], f"image_info[{i}].image_base64"))
    return images.file(info[first_key(info, ("image_name",))], f"image_info[{i}].image_name")


def parse(raw: Any, fallback_id: str, images: ImageResolver) -> Draft:
    record = as_record(raw)
    sentences = listing(record[first_key(record, ("text_list",))], "text_list")
    sentences = [no_markers(text(s, f"text_list[{j}]"), f"text_list[{j}]") for j, s in enumerate(sentences)]
    infos = [] if record.get("image_info") is None else listing(record["image_info"], "image_info")
    if not any(s.strip() for s in sentences):
        raise SkipRecord("empty_text", "text_list has no text")
    before: dict[int, list[tuple[float, ImageSource]]] = {}
    for i, info in enumerate(infos):
        info = as_record(info)
        sentence = integer(info[first_key(info, ("matched_text_index",))], f"image_info[{i}].matched_text_index")
        if not 0 <= sentence < len(sentences):
            raise SkipRecord("bad_index", f"image_info[{i}] matches sentence {sentence} of {len(sentences)}")
        before.setdefault(sentence, []).append((_similarity(info, record, i, sentence), _source(info, images, i)))
    segments: list[dict[str, Any]] = []
    sources: list[ImageSource] = []
    for j, sentence in enumerate(sentences):
        for sim, source in before.get(j, []):
            segments.append({"image": len(sources), "similarity": sim})
            sources.append(source)
        segments.append({"text": sentence})
    return Draft(record_id(record, fallback_id), {"segments": segments}, sources)
