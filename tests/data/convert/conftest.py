"""Fixtures of the converter tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from convert_helpers import BAD_FILES, GOOD_FILES
from s3_server import s3  # noqa: F401  (the fixture)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """A folder with every file of GOOD_FILES and BAD_FILES."""
    folder = tmp_path / "images"
    folder.mkdir()
    for name, data in GOOD_FILES.items():
        (folder / name).write_bytes(data)
    for name, (data, _) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    return folder
