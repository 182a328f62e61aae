"""Fixtures of the training tests (helpers live in ``train_helpers``)."""

import pytest
from train_helpers import tiny_model


@pytest.fixture
def model():
    return tiny_model()
