"""HallusionBench-style visual-dependent sets: an original figure and an edited one, same questions.

Each set is an MMVP-style image pair that differs in one detail (orientation, state, colour,
position or count; :func:`..layouts.mmvp.make_pair`): figure 0 is the original, figure 1 the
edit. Both figures get the same two yes/no questions, one per value of the detail, so the answers
flip between the figures; a question pair (one question over both figures) is right only when the
model sees the edit. Written as ``hallusionbench/HallusionBench.json`` (category ``VD``, the detail
as subcategory, the official field names and string values) with the figures in
``hallusionbench/hallusion_bench/VD/<detail>/<set>_<figure>.png``. The world has no charts or
tables, so the visual-supplement (VS) category is absent.
"""

from __future__ import annotations

from ..catalog import BY_NAME, COUNT_WORDS
from ..context import Context
from ..files import write_json
from ..language import orientation_phrase, state_word
from .mmvp import DETAILS, make_pair

SIZE = {"small": 5, "full": 50}  # sets (two figures, two questions each)
ROOT = "hallusionbench"


def question(detail: str, category: str, value: str) -> str:
    """A yes/no question that holds when the detail has ``value``."""
    if detail == "orientation":
        return f"Is the {category} shown {orientation_phrase(category, value)}?"
    if detail == "state":
        return f"Is the {category} {state_word(category, value)}?"
    if detail == "colour":
        return f"Is the {category} {value}?"
    if detail == "position":
        return f"Is the {category} on the {value} side of the image?"
    n = int(value)
    if n == 1:
        return f"Is there one {category} in the image?"
    return f"Are there {COUNT_WORDS[n]} {BY_NAME[category].plural} in the image?"


def build(ctx: Context) -> dict:
    items = []
    for s in range(SIZE[ctx.size]):
        detail = DETAILS[s % len(DETAILS)]
        rng = ctx.rng("hallusionbench", s)
        for _ in range(500):
            made = make_pair(rng, detail)
            if made is not None:
                break
        else:
            raise RuntimeError(f"could not compose a HallusionBench set differing in {detail}")
        a, b, _, _, values = made
        category = a["objects"][0]["category"]
        asked = [question(detail, category, v) for v in values]
        for fig, (sc, value) in enumerate(((a, values[0]), (b, values[1]))):
            rel = f"hallusion_bench/VD/{detail}/{s}_{fig}.png"
            ctx.image("hallusionbench", f"{ROOT}/{rel}", sc, detail=detail, value=value)
            for qid, (q, v) in enumerate(zip(asked, values, strict=True)):
                truth = v == value
                items.append({
                    "category": "VD", "subcategory": detail, "visual_input": "1", "set_id": str(s),
                    "figure_id": str(fig), "sample_note": category, "question_id": str(qid), "question": q,
                    "gt_answer_details": f"{detail} of the {category}: {value}",
                    "gt_answer": "1" if truth else "0", "filename": f"./{rel}",
                })
    write_json(ctx.out / ROOT / "HallusionBench.json", items)
    return {"hallusionbench_sets": SIZE[ctx.size], "hallusionbench_questions": len(items)}


WORLD_PARTS = (("hallusionbench", build),)
