"""Captioning (COCO, Flickr30k) scored by CIDEr-D on PTB-style tokens."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from vlmkit.eval.metrics import cider, coco_tokenize
from vlmkit.eval.tasks.base import Example, Prediction, Task
from vlmkit.eval.tasks.files import ImageFolder, read_json

CAPTION_PROMPT = "Provide a one-sentence caption for the provided image."


class CaptionTask(Task):
    """Image captioning. ``annotations`` is either a COCO captions file (``captions_val2014.json``:
    ``images`` + ``annotations``) or a Karpathy split file (``dataset_coco.json``,
    ``dataset_flickr30k.json``: ``images`` with ``sentences`` and ``split``; ``split`` option,
    default ``test``); ``images`` is the image folder (Karpathy COCO entries add their ``filepath``).
    The corpus CIDEr-D is reported as ``cider``; each prediction keeps its own item score."""

    name = "coco_caption"
    known_options = ("annotations", "images", "split", "prompt")
    metric = "cider"
    max_new_tokens = 32

    def examples(self) -> list[Example]:
        data = read_json(self.option("annotations"), f"{self.name} annotations")
        if not isinstance(data, dict) or "images" not in data:
            raise ValueError(f"{self.name} annotations: expected COCO captions (images + annotations) or a Karpathy split file (images with sentences)")
        folder = ImageFolder(self.option("images"), f"{self.name} images", self.skip)
        pairs = self._coco(data) if "annotations" in data else self._karpathy(data)
        prompt = self.option("prompt", CAPTION_PROMPT)
        out = []
        for image_id, file_name, refs in pairs:
            image = folder.find(file_name)
            if image is not None and refs:
                out.append(Example(image_id, prompt, [image], refs, refs[0]))
            elif image is not None:
                self.skip("no_reference_captions")
        return out

    @staticmethod
    def _coco(data: dict) -> list[tuple]:
        refs: dict = defaultdict(list)
        for a in data["annotations"]:
            refs[a["image_id"]].append(a["caption"].strip())
        return [(im["id"], im["file_name"], refs[im["id"]]) for im in data["images"]]

    def _karpathy(self, data: dict) -> list[tuple]:
        split = self.option("split", "test")
        out = []
        for im in data["images"]:
            if im.get("split") != split:
                continue
            name = f"{im['filepath']}/{im['filename']}" if im.get("filepath") else im["filename"]
            out.append((im.get("cocoid", im.get("imgid", im["filename"])), name, [s["raw"].strip() for s in im.get("sentences", [])]))
        return out

    def parse(self, text: str, example: Example) -> str:
        return text.strip().split("\n")[0]

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        if not predictions:
            return {}
        refs = [[coco_tokenize(r) for r in p.example.target] for p in predictions]
        corpus, per_item = cider(refs, [coco_tokenize(p.parsed) for p in predictions])
        for p, s in zip(predictions, per_item):
            p.score = s
        return {"cider": corpus}


class Flickr30kTask(CaptionTask):
    """Flickr30k captioning (Karpathy split file ``dataset_flickr30k.json``)."""

    name = "flickr30k"
