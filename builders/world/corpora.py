"""Training corpora under ``train/`` (photo domain only; no evaluation image appears here).

All five corpora share ``train/images/*.png``; paths inside the files are relative to ``train/``.

- ``captions.jsonl``   {"image", "caption"}: alt-text that names only the categories, so a
  contrastive encoder trained on it has no reason to keep orientation, count or colour;
- ``interleaved.jsonl`` {"image", "text"}: detailed captions (colour, count, orientation, position);
- ``instruct.jsonl``   {"image", "question", "answer"}: yes/no existence for every category
  present and as many absent ones, "main object", attribute, counting, two-option "(a) .. (b) .."
  and short-answer questions;
- ``region.jsonl``     {"image", "bbox" [x, y, w, h], "polygon" [[x1, y1, ...], ...], "instruction",
  "answer"}: describe the object in a region (the answer is a referring description);
- ``t2i.jsonl``        {"image", "caption"}: detailed captions for text-to-image training.

Sizes: ``full`` 10,000 images (about 10k alt-text pairs, 10k documents, about 70k instructions,
10k regions, 10k text-to-image pairs); ``small`` 300 images.
"""

from __future__ import annotations

import numpy as np

from . import scene as S
from .catalog import BY_NAME, COLOUR_NAMES
from .context import Context
from .files import write_jsonl
from .language import adjectives, alt_text, article, detailed_caption, orientation_phrase, position_phrase
from .pool import parallel_map
from .questions import absent, exists_question, negatives, orientation_question, state_question, vqa_questions

VQA_PER_IMAGE = 2  # VQAv2-style questions per training image, besides existence and two-option


def _two_option(sc: dict, rng: np.random.Generator) -> dict | None:
    """An MMVP-style question with options in the text and a letter answer."""
    obj = sc["objects"][int(rng.integers(len(sc["objects"])))]
    cat = obj["category"]
    n = S.count(sc, cat)
    choice = rng.random()
    if obj["orientation"] and n == 1 and choice < 0.35:
        opts = ("up", "down") if obj["orientation"] in ("up", "down") else ("left", "right")
        q, value = orientation_question(cat, opts), obj["orientation"]
    elif obj["state"] and n == 1 and choice < 0.5:
        q, opts = state_question(cat)
        value = obj["state"]
    elif choice < 0.7:
        other = str(rng.choice([c for c in COLOUR_NAMES if c != obj["colour"]]))
        opts = tuple(sorted((obj["colour"], other)))
        q, value = f"What is the color of the {cat}?", obj["colour"]
    else:
        wrong = n + int(rng.choice([-1, 1])) if n > 1 else n + 1
        opts = tuple(str(v) for v in sorted((n, wrong)))
        q, value = f"How many {BY_NAME[cat].plural} are there in the image?", str(n)
    letter = "(a)" if value == opts[0] else "(b)"
    return {"question": f"{q} (a) {opts[0]} (b) {opts[1]}", "answer": letter}


def existence(sc: dict, rng: np.random.Generator) -> list[dict]:
    """Every category in the image (yes) and as many absent ones (no), balanced per category.

    Absent categories are drawn with weight freq / (1 - freq), so each category is the answer
    "no" about as often as "yes" and the category asked about says nothing of the answer. (One
    question per image with POPE-style popular/adversarial negatives made "cup" a "no" 71% of
    the time; a small model learnt that prior instead of looking at the image.)
    """
    present = S.categories(sc)
    freq, _ = S.world_statistics()
    pool = absent(sc)
    w = np.array([freq[c] / (1.0 - freq[c]) for c in pool])
    drawn = [pool[int(i)] for i in rng.choice(len(pool), size=len(present), replace=False, p=w / w.sum())]
    rows = [{"question": exists_question(c), "answer": "yes"} for c in present]
    return rows + [{"question": exists_question(c), "answer": "no"} for c in drawn]


def instructions(sc: dict, rng: np.random.Generator) -> list[dict]:
    out = existence(sc, rng)
    present = S.categories(sc)
    if len(present) == 1:
        cat = present[0] if rng.random() < 0.5 else negatives(sc, "adversarial", 1, rng)[0]
        out.append({"question": f"Is {article(cat)} {cat} the main object in this image?",
                    "answer": "yes" if cat == present[0] else "no"})
    out.append(_two_option(sc, rng))
    # existence is asked above, for every category
    vqa = [q for q in vqa_questions(sc, rng, VQA_PER_IMAGE + 1) if q["kind"] != "exists"][:VQA_PER_IMAGE]
    return out + [{"question": q["question"], "answer": q["answer"]} for q in vqa]


def region_item(sc: dict, rng: np.random.Generator) -> dict:
    obj = sc["objects"][int(rng.integers(len(sc["objects"])))]
    words = " ".join(adjectives(obj))
    desc = f"{article(words)} {words} {obj['category']}"
    if obj["orientation"]:
        desc += " " + orientation_phrase(obj["category"], obj["orientation"])
    desc += " " + position_phrase(*obj["centre"])
    instruction = str(rng.choice(["Describe the object in the region.", "What is in the marked region?",
                                  "Give a short description of the highlighted object."]))
    return {"bbox": obj["bbox"], "polygon": obj["polygons"], "instruction": instruction, "answer": desc}


def train_item(args: tuple[int, int]) -> tuple[dict, dict]:
    """Scene and text records of training image ``i`` (a pure function of seed and index)."""
    seed, i = args
    rng = S.rng_for(seed, "train", i)
    sc = S.random_scene(rng, k_range=(1, 3), count_range=(1, 4), jitter=int(rng.integers(6, 15)),
                        bg_jitter=int(rng.integers(4, 12)))
    rel = f"images/{i:06d}.png"
    trng = S.rng_for(seed, "train-text", i)
    detailed = detailed_caption(sc)
    rows = {
        "captions": [{"image": rel, "caption": alt_text(sc, trng)}],
        "interleaved": [{"image": rel, "text": detailed}],
        "instruct": [{"image": rel, **qa} for qa in instructions(sc, trng)],
        "region": [{"image": rel, **region_item(sc, trng)}],
        "t2i": [{"image": rel, "caption": detailed}],
    }
    return sc, rows


def build(ctx: Context) -> dict:
    S.world_statistics()  # computed once before workers fork
    corpora: dict[str, list[dict]] = {k: [] for k in ("captions", "interleaved", "instruct", "region", "t2i")}
    for i, (sc, rows) in enumerate(parallel_map(train_item, [(ctx.seed, i) for i in range(ctx.cfg["train"])])):
        ctx.image("train", f"train/images/{i:06d}.png", sc)
        for k, v in rows.items():
            corpora[k].extend(v)
    root = ctx.out / "train"
    counts = {"train_images": ctx.cfg["train"]}
    for k, rows in corpora.items():
        counts[f"train_{k}"] = write_jsonl(root / f"{k}.jsonl", rows)
    return counts
