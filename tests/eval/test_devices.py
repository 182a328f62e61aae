"""``gpu`` (trainer.device, Composer's name) and ``cuda`` (torch's) name one device to eval."""

import pytest
import torch

from vlmkit.eval.loading import torch_device


@pytest.mark.parametrize("name, expected", [("cpu", "cpu"), ("gpu", "cuda"), ("cuda", "cuda"), ("cuda:1", "cuda:1")])
def test_trainer_and_torch_spellings_name_the_same_device(name, expected):
    assert torch_device(name) == torch.device(expected)


def test_auto_is_cuda_only_when_there_is_one():
    assert torch_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
