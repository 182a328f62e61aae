"""The photos scikit-image ships in ``skimage/data`` (read as files; skimage is not imported),
with hand-written captions, downscaled to at most 128 px and stored as JPEG."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

MAX_SIDE = 128

CAPTIONS = {
    "astronaut.png": "a portrait of an astronaut in a white spacesuit in front of a flag",
    "camera.png": "a black and white photo of a man standing behind a camera on a tripod",
    "chelsea.png": "a photo of a ginger tabby cat",
    "coffee.png": "a cup of coffee on a saucer with a spoon",
    "rocket.jpg": "a rocket standing on its launch pad",
    "coins.png": "a grayscale photo of old coins laid out in rows",
    "horse.png": "a black silhouette of a horse",
    "hubble_deep_field.jpg": "a telescope image of many distant galaxies",
    "moon.png": "a grayscale photo of the surface of the moon",
    "motorcycle_left.png": "a red motorcycle parked in a warehouse",
    "page.png": "a scanned page of printed text",
    "text.png": "handwritten letters and numbers on a sheet of paper",
    "retina.jpg": "a photo of the retina of an eye",
    "ihc.png": "a microscope image of stained tissue",
    "cell.png": "a microscope image of a single round cell",
    "color.png": "a colour wheel on a black background",
    "chessboard_RGB.png": "a black and white chessboard pattern",
    "brick.png": "a grayscale photo of a brick wall",
    "grass.png": "a close-up photo of grass",
    "phantom.png": "a grayscale medical test image of an oval head shape",
}


def data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-image is not installed; pip install 'vlmkit[assets]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def photo_jpeg(name: str) -> bytes:
    """``name`` from skimage's data folder as an RGB JPEG no larger than 128 px a side."""
    from PIL import Image

    with Image.open(data_dir() / name) as image:
        image = image.convert("RGB")
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def photos() -> list[tuple[str, str]]:
    """``(file name, caption)`` of every captioned photo present in this scikit-image."""
    folder = data_dir()
    return [(name, caption) for name, caption in CAPTIONS.items() if (folder / name).is_file()]
