"""Exporting trained models (``vlmkit export``) and loading exported folders (``from_pretrained``)."""
