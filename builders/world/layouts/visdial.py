"""VisDial v1.0 val layout: dialogs about a scene, 100 candidate answers per round, dense relevance.

Each dialog opens with a short caption and asks up to ten questions whose answers are read
off the scene (existence, counting, colour, side, the category of a coloured object). Every
round's 100 options hold the human answer, answers that mean the same (relevance 1.0 or
0.8: "two" beside "2", "yes it is" beside "yes"), hedged ones (0.4: "i think so") and
other answers of the world's vocabulary (0). As in the release, ``questions`` and
``answers`` are global string lists indexed by the rounds, question strings have no
question mark, and the dense annotations (``round_id`` 1-based) cover three rounds per dialog
(the release annotates one) so that NDCG rests on more rounds of the small world.
"""

from __future__ import annotations

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME, COLOUR_NAMES, COUNT_WORDS, NAMES, NEAR_COLOUR
from ..context import Context
from ..files import write_json
from ..language import article, short_caption
from ..questions import negatives

SIZE = {"small": 3, "full": 6}  # dialogs (about 55 rounds at full size)
ROUNDS = 10
N_OPTIONS = 100
DENSE_PER_DIALOG = 3
IMAGE_ID0 = 2600000
HEDGES = ("i think so", "i don't think so", "i can't tell", "not sure", "maybe", "hard to say")


def answer_vocabulary() -> list[str]:
    """Every answer string the dialogs use (more than 100, so options can be drawn from it)."""
    words = ["yes", "yes it is", "yes there is", "no", "no it isn't", "no there isn't", *HEDGES]
    for n in range(0, 6):
        words += [str(n), COUNT_WORDS.get(n, "none" if n == 0 else str(n))]
    for c in COLOUR_NAMES:
        words += [c, f"it is {c}", f"it's {c}"]
    for c in NAMES:
        words += [c, f"{article(c)} {c}"]
    words += ["on the left", "on the right", "in the middle", "left", "right", "middle"]
    return list(dict.fromkeys(words))


def _turns(scene: dict, rng: np.random.Generator) -> list[tuple[str, str, dict[str, float]]]:
    """(question, human answer, {equivalent answer: relevance}) the scene supports, shuffled."""
    out = []
    cats = S.categories(scene)
    for cat in cats:
        n = S.count(scene, cat)
        out.append((f"is there {article(cat)} {cat}", "yes", {"yes there is": 0.8, "i think so": 0.4}))
        out.append((f"how many {BY_NAME[cat].plural} are there", str(n), {COUNT_WORDS[n]: 1.0}))
        if n == 1:
            obj = next(o for o in scene["objects"] if o["category"] == cat)
            colour = obj["colour"]
            out.append((f"what color is the {cat}", colour, {f"it is {colour}": 1.0, f"it's {colour}": 1.0}))
            asked = colour if rng.random() < 0.5 else NEAR_COLOUR[colour]
            yes = asked == colour
            out.append((f"is the {cat} {asked}", "yes" if yes else "no",
                        {"yes it is": 0.8, "i think so": 0.4} if yes else {"no it isn't": 0.8,
                                                                          "i don't think so": 0.4}))
            side = S.horizontal(obj["centre"][0])
            if side != "center":
                out.append((f"which side is the {cat} on", f"on the {side}", {side: 1.0}))
            if sum(o["colour"] == colour for o in scene["objects"]) == 1:
                out.append((f"what is the {colour} object", f"{article(cat)} {cat}", {cat: 1.0}))
    for neg in negatives(scene, "adversarial", 2, rng):
        out.append((f"is there {article(neg)} {neg}", "no", {"no there isn't": 0.8, "i don't think so": 0.4}))
    return [out[int(i)] for i in rng.permutation(len(out))]


def build(ctx: Context) -> dict:
    vocab = answer_vocabulary()
    questions: list[str] = []
    q_index: dict[str, int] = {}
    dialogs, dense = [], []
    n_rounds = 0
    for i in range(SIZE[ctx.size]):
        rng = ctx.rng("visdial", i)
        sc = S.random_scene(rng, k_range=(2, 3), count_range=(1, 3))
        image_id = IMAGE_ID0 + i
        rounds = []
        turns = _turns(sc, ctx.rng("visdial-turns", i))[:ROUNDS]
        dense_rounds = {int(k) for k in ctx.rng("visdial-dense", i).permutation(len(turns))[:DENSE_PER_DIALOG]}
        for r, (question, answer, equivalent) in enumerate(turns):
            orng = ctx.rng(f"visdial-options-{r}", i)
            relevant = {answer: 1.0, **equivalent}
            others = [a for a in vocab if a not in relevant]
            picked = [others[int(k)] for k in orng.choice(len(others), size=N_OPTIONS - len(relevant), replace=False)]
            options = [*relevant, *picked]
            options = [options[int(k)] for k in orng.permutation(len(options))]
            if question not in q_index:
                q_index[question] = len(questions)
                questions.append(question)
            rounds.append({"question": q_index[question], "answer": vocab.index(answer),
                           "answer_options": [vocab.index(o) for o in options], "gt_index": options.index(answer)})
            if r in dense_rounds:
                dense.append({"image_id": image_id, "round_id": r + 1,
                              "gt_relevance": [relevant.get(o, 0.0) for o in options]})
        n_rounds += len(rounds)
        dialogs.append({"image_id": image_id, "caption": short_caption(sc), "dialog": rounds})
        ctx.image("visdial", f"visdial/VisualDialog_val2018/VisualDialog_val2018_{image_id:012d}.jpg", sc,
                  image_id=image_id, turns=[{"question": q, "answer": a} for q, a, _ in turns])
    out = ctx.out / "visdial"
    write_json(out / "visdial_1.0_val.json", {"version": "1.0", "split": "val2018",
                                              "data": {"questions": questions, "answers": vocab, "dialogs": dialogs}})
    write_json(out / "visdial_1.0_val_dense_annotations.json", dense)
    return {"visdial_dialogs": len(dialogs), "visdial_rounds": n_rounds}


WORLD_PARTS = (("visdial", build),)
