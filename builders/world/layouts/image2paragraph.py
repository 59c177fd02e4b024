"""Stanford-paragraphs layout: ``image2paragraph/paragraphs_v1.json`` + the split files + images.

Each paragraph is the detailed scene description told sentence by sentence, as the human
paragraphs do: an opening that names what the picture shows, one sentence per group of
objects (count, colour, size, texture, orientation, position) and one about the background.
Images sit under ``images/VG_100K/{id}.jpg``, the folder the ``url`` names.
"""

from __future__ import annotations

from .. import scene as S
from ..context import Context
from ..files import write_json
from ..language import counted, group_phrase, join

SIZE = {"small": {"train": 2, "val": 2, "test": 6}, "full": {"train": 10, "val": 10, "test": 50}}
IMAGE_ID0 = 2400000
URL = "https://cs.stanford.edu/people/rak248/VG_100K/{}.jpg"


def paragraph(scene: dict) -> str:
    """'This picture shows a fish and two keys. There is a small red fish facing left at the top. ...'"""
    cats = S.categories(scene)
    sentences = [f"This picture shows {join([counted(c, S.count(scene, c)) for c in cats])}."]
    for g in S.groups(scene):
        verb = "is" if len(S.group_objects(scene, g)) == 1 else "are"
        sentences.append(f"There {verb} {group_phrase(scene, g)}.")
    sentences.append(f"The background is {scene['background']['name']}.")
    return " ".join(sentences)


def build(ctx: Context) -> dict:
    entries, splits = [], {}
    i = 0
    for split, n in SIZE[ctx.size].items():
        splits[split] = []
        for _ in range(n):
            sc = S.random_scene(ctx.rng("image2paragraph", i), k_range=(2, 3), count_range=(1, 3))
            image_id = IMAGE_ID0 + i
            entries.append({"url": URL.format(image_id), "image_id": image_id, "paragraph": paragraph(sc)})
            splits[split].append(image_id)
            ctx.image("image2paragraph", f"image2paragraph/images/VG_100K/{image_id}.jpg", sc, image_id=image_id,
                      split=split)
            i += 1
    out = ctx.out / "image2paragraph"
    write_json(out / "paragraphs_v1.json", entries)
    for split, ids in splits.items():
        write_json(out / f"{split}_split.json", ids)
    return {"image2paragraph": len(entries), "image2paragraph_test": len(splits["test"])}


WORLD_PARTS = (("image2paragraph", build),)
