"""NaturalBench: 2x2 groups built from MMVP-style detail pairs, in the BaiqiL/NaturalBench layout.

Each group is an MMVP pair (``mmvp.make_pair``: two scenes that differ in exactly one detail —
orientation, count, colour, position or state) and two questions whose answers flip between the
images, so that an answer blind to the image scores nothing on the group:

- ``yes_no`` groups ask "Is the fish facing left?" (Question_0, about image 0's value) and
  "Is the fish facing right?" (Question_1, about image 1's): answers Yes/No/No/Yes;
- ``multiple_choice`` groups ask the MMVP question with the two values as options A/B, in
  opposite orders in the two questions: answers A/B/B/A.

That is the answer pattern the released data has (and the official scorer assumes). Groups
alternate between the two types and cycle through the details. The file is
``naturalbench/data/train-00000-of-00001.parquet`` with the release's columns, images embedded
as PNG {bytes, path} structs (drawn here, since parquet holds the bytes), scenes in the sidecar.
"""

from __future__ import annotations

from ..catalog import BY_NAME, COUNT_WORDS
from ..context import Context
from ..draw import render
from ..files import png_bytes
from .mmvp import DETAILS, make_pair

SIZE = {"small": 4, "full": 100}  # groups; four questions each
PARQUET = "naturalbench/data/train-00000-of-00001.parquet"
TEXT_COLUMNS = ("Question_0", "Image_0_Question_0", "Image_1_Question_0", "Question_1", "Image_0_Question_1",
                "Image_1_Question_1", "Question_Type", "Source")


def yes_no_question(detail: str, category: str, value: str) -> str:
    """A yes/no question that is true exactly when the focal objects show ``value``."""
    if detail == "orientation":
        facing = BY_NAME[category].facing
        if facing.startswith("with its"):
            return f"Is the {facing.split()[2]} of the {category} on the {value}?"
        return f"Is the {category} {facing} {value}?"
    if detail in ("state", "colour"):
        return f"Is the {category} {value}?"
    if detail == "position":
        return f"Is the {category} on the {value} side of the image?"
    n = int(value)
    if n == 1:
        return f"Is there exactly one {category} in the image?"
    return f"Are there exactly {COUNT_WORDS[n]} {BY_NAME[category].plural} in the image?"


def _group(ctx: Context, g: int) -> dict:
    detail = DETAILS[g % len(DETAILS)]
    rng = ctx.rng("naturalbench", g)
    for _ in range(500):
        made = make_pair(rng, detail)
        if made is not None:
            break
    else:
        raise RuntimeError(f"could not compose a NaturalBench pair differing in {detail}")
    a, b, question, _options, (va, vb) = made
    cat = next(o["category"] for o in a["objects"] if o["group"] == 0)
    if g % 2 == 0:
        qtype, q0, q1 = "yes_no", yes_no_question(detail, cat, va), yes_no_question(detail, cat, vb)
        first, second = "Yes", "No"
    else:
        qtype, q0, q1 = "multiple_choice", f"{question}\nA. {va}\nB. {vb}", f"{question}\nA. {vb}\nB. {va}"
        first, second = "A", "B"
    images = []
    for j, sc in enumerate((a, b)):
        ctx.sidecars.setdefault("naturalbench", []).append(
            {"image": f"{PARQUET}#{g}/Image_{j}", "scene": sc, "detail": detail, "value": (va, vb)[j]})
        images.append({"bytes": png_bytes(render(sc)), "path": None})
    return {"Index": g, "Image_0": images[0], "Image_1": images[1], "Question_0": q0, "Image_0_Question_0": first,
            "Image_1_Question_0": second, "Question_1": q1, "Image_0_Question_1": second,
            "Image_1_Question_1": first, "Question_Type": qtype, "Source": f"world:{detail}"}


def build(ctx: Context) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_group(ctx, g) for g in range(SIZE[ctx.size])]
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("Index", pa.int64()), ("Image_0", image), ("Image_1", image),
                        *((c, pa.string()) for c in TEXT_COLUMNS)])
    path = ctx.out / PARQUET
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return {"naturalbench_groups": len(rows), "naturalbench": 4 * len(rows)}


WORLD_PARTS = (("naturalbench", build),)
