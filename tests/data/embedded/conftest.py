"""Embedded-data tests build into their own cache folder, shared by the module's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """``$VLMKIT_CACHE`` pointed at a fresh folder for the module."""
    folder = tmp_path_factory.mktemp("vlmkit_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VLMKIT_CACHE", str(folder))
        yield folder
