"""Safe image decoding: bombs refused before decoding, truncation detected, re-encode policy."""

from __future__ import annotations

import io

import pytest
from convert_helpers import BAD_FILES, bomb_png, encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from vlmkit.data.images import REASONS, ImageError, decode_image, open_image, prepare_image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_valid_jpeg_and_png_are_stored_unchanged(fmt):
    data = encode(fmt, size=(16, 9))
    assert prepare_image(data) == data


@pytest.mark.parametrize("fmt,mode", [("GIF", "P"), ("BMP", "RGB"), ("WEBP", "RGB"), ("TIFF", "CMYK")])
def test_other_formats_are_reencoded_as_png(fmt, mode):
    data = encode(fmt, color="red" if mode != "CMYK" else (0, 255, 255, 0), size=(10, 7), mode=mode)
    stored = prepare_image(data)
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and image.size == (10, 7)
    assert image.convert("RGB").getpixel((3, 3))[0] > 200  # still red


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_images_are_refused_with_their_reason(name):
    data, reason = BAD_FILES[name]
    with pytest.raises(ImageError) as info:
        prepare_image(data)
    assert info.value.reason == reason


def test_truncation_is_caught_even_when_pillow_is_told_to_accept_it(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for name in ("trunc.png", "trunc.jpg"):
        with pytest.raises(ImageError) as info:
            decode_image(BAD_FILES[name][0])
        assert info.value.reason == "truncated_image"


@pytest.mark.parametrize("size", [(9000, 9000), (100_000, 100_000), (1, 2**31 - 1)])
def test_decompression_bombs_are_refused_from_the_header(size, monkeypatch):
    # Pillow's own guard is switched off: the refusal must come from vlmkit's check.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageError) as info:
        open_image(bomb_png(*size))
    assert info.value.reason == "decompression_bomb"


def test_limits_are_configurable():
    data = encode("PNG", size=(20, 20))
    with pytest.raises(ImageError, match="decompression_bomb"):
        prepare_image(data, max_pixels=399)
    with pytest.raises(ImageError, match="image_too_large"):
        prepare_image(data, max_bytes=len(data) - 1)
    assert prepare_image(data, max_pixels=400, max_bytes=len(data)) == data


def test_decode_image_converts_mode_and_keeps_size():
    image = decode_image(encode("PNG", color=(10, 20, 30, 128), size=(5, 4), mode="RGBA"))
    assert image.mode == "RGB" and image.size == (5, 4)
    assert decode_image(encode("PNG", mode="L"), mode=None).mode == "L"


def test_non_bytes_input_is_an_image_error():
    with pytest.raises(ImageError):
        prepare_image("not bytes")  # type: ignore[arg-type]


SEEDS = [encode("PNG", size=(12, 12)), encode("JPEG", size=(12, 12)), encode("GIF", size=(12, 12))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 400)),
)
def test_mutated_bytes_either_decode_or_fail_with_a_known_reason(seed, edits, cut):
    data = bytearray(seed)
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    data = bytes(data[:cut] if cut is not None else data)
    try:
        stored = prepare_image(data)
    except ImageError as exc:
        assert exc.reason in REASONS
        return
    image = decode_image(stored)  # what was stored always decodes again
    assert image.size[0] * image.size[1] > 0
