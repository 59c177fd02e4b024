"""Questions with checked answers, derived from a scene dict.

Shared by the VQA layouts and the instruction corpus. Every function returns plain data; the
answer is computed from the scene, never sampled independently of it.
"""

from __future__ import annotations

import numpy as np

from . import scene as S
from .catalog import BY_NAME, COLOUR_NAMES, NAMES, NEAR_COLOUR
from .language import article


def absent(scene: dict) -> list[str]:
    present = set(S.categories(scene))
    return [c for c in NAMES if c not in present]


def negatives(scene: dict, rule: str, k: int, rng: np.random.Generator) -> list[str]:
    """POPE negative sampling: ``random`` absent categories, the most ``popular`` absent ones,
    or the ``adversarial`` ones that co-occur most with those present (ties by name)."""
    pool = absent(scene)
    if rule == "random":
        return [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)]
    if rule == "popular":
        freq, _ = S.world_statistics()
        return sorted(pool, key=lambda c: (-freq[c], c))[:k]
    if rule == "adversarial":
        present = S.categories(scene)
        return sorted(pool, key=lambda c: (-sum(S.cooccurrence(c, p) for p in present), c))[:k]
    raise ValueError(f"unknown negative rule {rule!r}")


def exists_question(category: str) -> str:
    return f"Is there {article(category)} {category} in the image?"


def orientation_question(category: str, options: tuple[str, str]) -> str:
    facing = BY_NAME[category].facing
    a, b = options
    if facing.startswith("with its"):
        part = facing.split()[2]
        return f"Is the {part} of the {category} on the {a} or the {b}?"
    return f"Is the {category} {facing} {a} or {b}?"


def which_way_question(category: str) -> str:
    facing = BY_NAME[category].facing
    if facing.startswith("with its"):
        return f"Which side is the {facing.split()[2]} of the {category} on?"
    return f"Which way is the {category} {facing}?"


def state_question(category: str) -> tuple[str, tuple[str, str]]:
    if category == "lamp":
        return "Is the lamp on or off?", ("on", "off")
    states = BY_NAME[category].states
    return f"Is the {category} {states[0]} or {states[1]}?", (states[0], states[1])


def single_group(scene: dict, category: str) -> dict:
    return next(o for o in scene["objects"] if o["category"] == category)


def vqa_questions(scene: dict, rng: np.random.Generator, n: int) -> list[dict]:
    """n questions of distinct kinds, VQAv2 style: {question, answer, answer_type, question_type, kind}."""
    cats = S.categories(scene)
    out: list[dict] = []
    kinds = ["exists", "count", "colour", "colour_yn", "what", "facing", "side"]
    for kind in [kinds[int(i)] for i in rng.permutation(len(kinds))]:
        if len(out) == n:
            break
        cat = cats[int(rng.integers(len(cats)))]
        obj = single_group(scene, cat)
        q = None
        if kind == "exists":
            if rng.random() < 0.5:
                q = (exists_question(cat), "yes", "yes/no", "is there a")
            else:
                neg = negatives(scene, str(rng.choice(["random", "adversarial"])), 1, rng)[0]
                q = (exists_question(neg), "no", "yes/no", "is there a")
        elif kind == "count":
            n_cat = S.count(scene, cat)
            q = (f"How many {BY_NAME[cat].plural} are there?", str(n_cat), "number", "how many")
        elif kind == "colour":
            verb = "is the" if S.count(scene, cat) == 1 else "are the"
            noun = cat if S.count(scene, cat) == 1 else BY_NAME[cat].plural
            q = (f"What color {verb} {noun}?", obj["colour"], "other", f"what color {verb}")
        elif kind == "colour_yn":
            asked = obj["colour"] if rng.random() < 0.5 else NEAR_COLOUR[obj["colour"]]
            if S.count(scene, cat) == 1:
                q = (f"Is the {cat} {asked}?", "yes" if asked == obj["colour"] else "no", "yes/no", "is the")
        elif kind == "what":
            same = [o for o in scene["objects"] if o["colour"] == obj["colour"]]
            if all(o["category"] == cat for o in same) and S.count(scene, cat) == 1:
                q = (f"What is the {obj['colour']} object?", cat, "other", "what is the")
        elif kind == "facing":
            if obj["orientation"] and S.count(scene, cat) == 1:
                q = (which_way_question(cat), obj["orientation"], "other", "which")
        elif kind == "side":
            x = S.group_centre(scene, obj["group"])[0]
            if S.count(scene, cat) == 1 and S.horizontal(x) != "center":
                q = (f"Which side of the picture is the {cat} on?", S.horizontal(x), "other", "which")
        if q is not None:
            out.append({"question": q[0], "answer": q[1], "answer_type": q[2], "question_type": q[3],
                        "kind": kind, "category": cat})
    return out


SYNONYMS_NUMBER = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}


def _wrong(answer: str, kind: str, rng: np.random.Generator) -> str:
    if answer in ("yes", "no"):
        return "no" if answer == "yes" else "yes"
    if answer.isdigit():
        return str(max(0, int(answer) + int(rng.choice([-1, 1]))))
    if answer in COLOUR_NAMES:
        return NEAR_COLOUR[answer]
    if answer in ("left", "right", "up", "down"):
        return {"left": "right", "right": "left", "up": "down", "down": "up"}[answer]
    if answer in BY_NAME:
        peers = [c for c in S.SCENE_BY_NAME[BY_NAME[answer].scene].members if c != answer]
        return peers[int(rng.integers(len(peers)))]
    return "i don't know"


def _variant(answer: str, rng: np.random.Generator, alternatives: tuple[str, ...] = ()) -> str:
    """A differently written answer that the official normalisation maps to the same string, or
    an alternative answer (a synonym the normalisation does not merge)."""
    r = rng.random()
    if alternatives and r < 0.35:
        return alternatives[int(rng.integers(len(alternatives)))]
    if answer in SYNONYMS_NUMBER and r < 0.7:
        return SYNONYMS_NUMBER[answer]
    if answer in BY_NAME and r < 0.6:
        return f"{article(answer)} {answer}"
    if r < 0.85:
        return answer.capitalize()
    return answer + "."


def ten_answers(answer: str, rng: np.random.Generator, alternatives: tuple[str, ...] = (),
                noise: float = 0.08) -> list[dict]:
    """Ten VQA annotator answers: mostly the answer, some variants and synonyms, a little noise.

    At least four answers are exactly ``answer`` (so it scores 100%) and it is the plurality.
    """
    raw: list[str] = []
    for i in range(10):
        if i < 4:
            raw.append(answer)
        elif rng.random() < noise:
            raw.append(_wrong(answer, "", rng))
        elif rng.random() < 0.5:
            raw.append(_variant(answer, rng, alternatives))
        else:
            raw.append(answer)
    while True:  # the intended answer must be the plurality (VQA's multiple_choice_answer)
        others = [a for a in raw if a != answer]
        if not others:
            break
        top = max(sorted(set(others)), key=others.count)
        if raw.count(answer) > others.count(top):
            break
        raw[raw.index(top)] = answer
    order = rng.permutation(10)
    out = []
    for j, idx in enumerate(order):
        a = raw[int(idx)]
        conf = "yes" if a == answer else ("maybe" if rng.random() < 0.5 else "no")
        out.append({"answer": a, "answer_confidence": conf, "answer_id": j + 1})
    return out


def consensus(answers: list[dict]) -> str:
    """The most frequent raw answer (ties by string), VQA's ``multiple_choice_answer``."""
    counts: dict[str, int] = {}
    for a in answers:
        counts[a["answer"]] = counts.get(a["answer"], 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
