"""``--max-image-side``: big images downscaled at conversion (aspect kept, format kept), small ones untouched."""

from __future__ import annotations

import io
import json

import pytest
from convert_helpers import encode, read_samples, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from vlmkit.data.convert import REPORT_FILE, convert
from vlmkit.data.images import prepare, prepare_image


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def halves(size: tuple[int, int], mode: str = "RGB", fmt: str = "JPEG", left="red", right="blue") -> bytes:
    """An image whose left half is ``left`` and right half ``right``: resampling must keep the layout."""
    image = Image.new(mode, size, left)
    image.paste(Image.new(mode, (size[0] - size[0] // 2, size[1]), right), (size[0] // 2, 0))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def assert_scaled(stored: tuple[int, int], original: tuple[int, int], side: int) -> None:
    """Longer side exactly ``side``; shorter side the original's times the scale, within rounding."""
    (w, h), (ow, oh) = stored, original
    assert max(w, h) == side and (w - h) * (ow - oh) >= 0  # landscape stays landscape (or square after rounding)
    short, exact = min(w, h), min(ow, oh) * side / max(ow, oh)
    assert abs(short - exact) <= 0.5 or short == 1


@pytest.mark.parametrize("size", [(1200, 800), (600, 1000), (701, 700)])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_big_image_gets_its_longer_side_and_keeps_aspect_and_format(size, fmt):
    stored = prepare(halves(size, fmt=fmt), max_side=336)
    image = opened(stored.data)
    assert stored.downscaled and image.format == fmt
    assert_scaled(image.size, size, 336)
    rgb = image.convert("RGB")
    left, right = rgb.getpixel((2, image.height // 2)), rgb.getpixel((image.width - 3, image.height // 2))
    assert left[0] > 200 and left[2] < 60 and right[2] > 200 and right[0] < 60  # red stays left, blue right


@pytest.mark.parametrize("size", [(336, 200), (200, 336), (50, 40)])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_an_image_within_the_side_is_stored_byte_for_byte(size, fmt):
    data = encode(fmt, size=size)
    stored = prepare(data, max_side=336)
    assert stored.data == data and not stored.downscaled
    assert prepare_image(encode(fmt, size=(400, 300)), max_side=336) != encode(fmt, size=(400, 300))


def test_png_alpha_is_kept_and_resampled_smoothly():
    image = Image.new("RGBA", (800, 400), (0, 0, 255, 0))
    image.paste(Image.new("RGBA", (400, 400), (255, 0, 0, 255)), (0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    stored = opened(prepare_image(out.getvalue(), max_side=100))
    assert stored.format == "PNG" and stored.mode == "RGBA" and stored.size == (100, 50)
    assert stored.getpixel((10, 25)) == (255, 0, 0, 255) and stored.getpixel((90, 25))[3] == 0
    assert 0 < stored.getpixel((49, 25))[3] < 255 and 0 < stored.getpixel((50, 25))[3] < 255  # Lanczos, not nearest


@pytest.mark.parametrize("mode,info", [("P", {"transparency": 0}), ("L", {}), ("LA", {}), ("I;16", {})])
def test_other_png_modes_keep_their_alpha_or_grey(mode, info):
    image = Image.new(mode, (300, 120))
    out = io.BytesIO()
    image.save(out, format="PNG", **info)
    stored = opened(prepare_image(out.getvalue(), max_side=150))
    assert stored.format == "PNG" and stored.size == (150, 60)
    has_alpha = "A" in stored.getbands() or "transparency" in stored.info
    assert has_alpha == (mode in ("P", "LA"))
    assert stored.mode == {"P": "RGBA"}.get(mode, mode)


def test_other_formats_become_png_and_jpeg_keeps_its_color_profile():
    gif = opened(prepare_image(encode("GIF", size=(500, 250)), max_side=100))
    assert gif.format == "PNG" and gif.size == (100, 50)
    out = io.BytesIO()  # a camera's multi-picture JPEG: its first frame stays JPEG
    Image.new("RGB", (800, 600), "red").save(out, format="MPO", save_all=True, append_images=[Image.new("RGB", (800, 600), "blue")])
    mpo = opened(prepare_image(out.getvalue(), max_side=200))
    assert mpo.format == "JPEG" and mpo.size == (200, 150) and mpo.convert("RGB").getpixel((5, 5))[0] > 200
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "green").save(out, format="JPEG", icc_profile=srgb)
    jpeg = opened(prepare_image(out.getvalue(), max_side=320))
    assert jpeg.format == "JPEG" and jpeg.size == (320, 240) and jpeg.info.get("icc_profile") == srgb


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "336"])
def test_bad_sides_are_refused_in_one_line(tmp_path, bad):
    write_jsonl(tmp_path / "p.jsonl", [{"image": "a.jpg", "caption": "c"}])
    with pytest.raises(ValueError, match="--max-image-side must be a whole number of pixels, at least 1") as info:
        convert("pairs", tmp_path / "p.jsonl", tmp_path / "out", max_image_side=bad)
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_the_report_counts_the_downscaled_images(tmp_path, workers):
    files = {"big.jpg": halves((900, 600)), "small.jpg": encode("JPEG", size=(64, 48)), "big.png": halves((200, 700), fmt="PNG"),
             "big2.jpg": halves((1000, 400)), "empty.png": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    records = [{"image": "big.jpg", "caption": "a"}, {"image": "small.jpg", "caption": "b"}, {"image": "big.png", "caption": "c"},
               {"images": ["big2.jpg", "empty.png"], "conversations": [{"from": "human", "value": "<image><image>"}, {"from": "gpt", "value": "x"}]}]
    write_jsonl(tmp_path / "p.jsonl", records[:3])
    report = convert("pairs", tmp_path / "p.jsonl", tmp_path / "out", max_image_side=128, workers=workers)
    assert (report.images_written, report.images_downscaled, report.max_image_side) == (3, 2, 128)
    saved = json.loads((tmp_path / "out" / REPORT_FILE).read_text())
    assert saved["max_image_side"] == 128 and saved["images_downscaled"] == 2
    assert "3 images, 2 downscaled to <= 128px" in report.summary()
    stored = [opened(s["images"][0]) for s in read_samples(tmp_path / "out")]
    assert [im.size for im in stored] == [(128, 85), (64, 48), (37, 128)]
    # A sample dropped for another image does not count its downscaled one; no option, nothing counted.
    write_jsonl(tmp_path / "c.jsonl", records[3:])
    skipped = convert("conversations", tmp_path / "c.jsonl", tmp_path / "out2", max_image_side=128, workers=workers)
    assert skipped.images_downscaled == 0 and skipped.skipped == {"empty_image": 1}
    plain = convert("pairs", tmp_path / "p.jsonl", tmp_path / "out3", workers=workers)
    assert plain.images_downscaled == 0 and json.loads((tmp_path / "out3" / REPORT_FILE).read_text())["max_image_side"] is None
    assert [s["images"][0] for s in read_samples(tmp_path / "out3")] == [files["big.jpg"], files["small.jpg"], files["big.png"]]


def test_cli_flag_end_to_end_reads_back_with_streaming(tmp_path, capsys):
    from streaming import StreamingDataset

    from vlmkit.cli import main
    from vlmkit.data.schema import unpack_images

    (tmp_path / "images").mkdir()
    sizes = [(1024, 768), (300, 200), (480, 640)]
    records = []
    for i, size in enumerate(sizes):
        (tmp_path / "images" / f"{i}.jpg").write_bytes(halves(size))
        records.append({"id": str(i), "image": f"{i}.jpg",
                        "conversations": [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": f"answer {i}"}]})
    (tmp_path / "chat.json").write_text(json.dumps(records))
    args = ["convert", "conversations", str(tmp_path / "chat.json"), str(tmp_path / "out"), "--image-root", str(tmp_path / "images")]
    assert main(args + ["--max-image-side", "336"]) == 0
    assert "3 images, 2 downscaled to <= 336px" in capsys.readouterr().out
    ds = StreamingDataset(local=str(tmp_path / "out"), batch_size=1, shuffle=False)
    images = [opened(unpack_images(ds[i]["images"])[0]) for i in range(len(ds))]
    assert [im.size for im in images] == [(336, 252), (300, 200), (252, 336)] and {im.format for im in images} == {"JPEG"}
    assert ds[2]["content"]["messages"][1]["content"] == "answer 2"
    assert main(args[:-3] + [str(tmp_path / "bad"), "--max-image-side", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vlmkit convert: error: --max-image-side must be")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=st.integers(1, 260), h=st.integers(1, 260), side=st.integers(1, 200), fmt=st.sampled_from(["JPEG", "PNG"]))
def test_any_size_and_side(w, h, side, fmt):
    data = encode(fmt, size=(w, h))
    stored = prepare(data, max_side=side)
    image = opened(stored.data)
    assert image.format == fmt and stored.downscaled == (max(w, h) > side)
    if max(w, h) > side:
        assert_scaled(image.size, (w, h), side)
    else:
        assert stored.data == data
