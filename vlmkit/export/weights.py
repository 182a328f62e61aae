"""Deprecated spelling: module weights moved to :mod:`vlmkit.storage.weights`, and
``build_and_load`` to :mod:`vlmkit.model.saved`. The old names still work, with a warning."""

from vlmkit.model import saved
from vlmkit.storage import weights
from vlmkit.storage.deprecated import moved_names

__getattr__ = moved_names(__name__, {
    "save_weights": ("vlmkit.storage.weights.save_weights", weights.save_weights),
    "load_weights": ("vlmkit.storage.weights.load_weights", weights.load_weights),
    "unique_state_dict": ("vlmkit.storage.weights.unique_tensors(module.state_dict())",
                          lambda module: weights.unique_tensors(module.state_dict())),
    "build_and_load": ("vlmkit.model.saved.build_and_load", saved.build_and_load),
})
