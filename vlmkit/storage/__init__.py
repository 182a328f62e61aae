"""Files on disk, below every package that writes or reads them (train, eval, export, experiments):

- :mod:`~vlmkit.storage.layout`: a run's folders and files, and which stages have finished;
- :mod:`~vlmkit.storage.weights`: weights to and from safetensors (tied tensors stored once);
- :mod:`~vlmkit.storage.composer`: Composer checkpoints (``ba{N}.pt``, sharded ``ba{N}/``) read without unpickling code;
- :mod:`~vlmkit.storage.atomic`: files that exist complete or not at all;
- :mod:`~vlmkit.storage.cache`: the vlmkit cache and building its folders once.

It imports nothing else from vlmkit.
"""
