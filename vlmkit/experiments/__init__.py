"""Experiments built from recipes: the ablation runner (``vlmkit ablate``) and the embedded
default demo (``vlmkit demo``). Sits above :mod:`vlmkit.train` and :mod:`vlmkit.eval`."""
