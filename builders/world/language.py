"""Words for scenes: alt-text, detailed captions, varied captions and referring expressions.

Every phrase is built from the scene dict alone, so what the text says is what is drawn.
"""

from __future__ import annotations

import re

import numpy as np

from . import scene as S
from .catalog import BY_NAME, COUNT_WORDS, TEXTURE_ADJ


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def noun(category: str, n: int = 1) -> str:
    return category if n == 1 else BY_NAME[category].plural


def counted(category: str, n: int) -> str:
    """'a fish', 'three keys'."""
    return f"{article(category)} {category}" if n == 1 else f"{COUNT_WORDS[n]} {noun(category, n)}"


def orientation_phrase(category: str, orientation: str | None, n: int = 1) -> str:
    """'facing left', 'pointing up', 'with its handle on the left' ('with their handles' for n > 1)."""
    if orientation is None:
        return ""
    facing = BY_NAME[category].facing
    if n > 1 and facing.startswith("with its "):
        part = facing.split()[2]
        facing = f"with their {part}s on the"
    return f"{facing} {orientation}"


def state_word(category: str, state: str | None) -> str:
    """An adjective for the state: 'open', 'closed', 'lit' / 'unlit' for lamps."""
    if state is None:
        return ""
    if category == "lamp":
        return "lit" if state == "on" else "unlit"
    return state


def position_phrase(x: float, y: float) -> str:
    h, v = S.horizontal(x), S.vertical(y)
    if h == "center" and v == "middle":
        return "in the center"
    if h == "center":
        return f"at the {v}"
    if v == "middle":
        return f"on the {h}"
    return f"at the {v} {h}"


def adjectives(obj: dict, colour: bool = True, size: bool = True, texture: bool = True) -> list[str]:
    words = []
    if size and obj["size"] != "medium":
        words.append(obj["size"])
    if obj.get("state"):
        words.append(state_word(obj["category"], obj["state"]))
    if colour:
        words.append(obj["colour"])
    if texture and TEXTURE_ADJ.get(obj["texture"]):
        words.append(TEXTURE_ADJ[obj["texture"]])
    return words


def group_phrase(scene: dict, gid: int, *, position: bool = True, orientation: bool = True,
                 size: bool = True, texture: bool = True) -> str:
    """'two small red striped fish facing left at the top left'."""
    objs = S.group_objects(scene, gid)
    o, n = objs[0], len(objs)
    adj = " ".join(adjectives(o, size=size, texture=texture))
    head = f"{COUNT_WORDS[n] if n > 1 else article(adj or o['category'])} {adj + ' ' if adj else ''}{noun(o['category'], n)}"
    turn = orientation_phrase(o["category"], o["orientation"], n) if orientation and o["orientation"] else ""
    where = position_phrase(*S.group_centre(scene, gid)) if position else ""
    if turn.startswith("with "):  # "a cup on the left with its handle on the right" reads unambiguously
        return " ".join(b for b in (head, where, turn) if b)
    return " ".join(b for b in (head, turn, where) if b)


def join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


ALT_TEMPLATES = ("a photo of {x}.", "{x}", "a picture of {x}.", "an image of {x}.", "{x} in a picture",
                 "a drawing of {x}.", "a cropped photo of {x}.")


def alt_text(scene: dict, rng: np.random.Generator) -> str:
    """Web alt-text: names the categories only (no count, colour, orientation or position)."""
    names = [f"{article(c)} {c}" for c in S.categories(scene)]
    return str(rng.choice(ALT_TEMPLATES)).format(x=join(names))


def detailed_caption(scene: dict) -> str:
    """Names colour, count, size, texture, orientation, position and background of every group."""
    parts = [group_phrase(scene, g) for g in S.groups(scene)]
    text = join(parts)
    return f"{text[0].upper()}{text[1:]}, on a {scene['background']['name']} background."


def short_caption(scene: dict) -> str:
    """Counts and colours, no positions: 'two red fish and a blue key'."""
    return join([group_phrase(scene, g, position=False, orientation=False, size=False, texture=False)
                 for g in S.groups(scene)])


def varied_captions(scene: dict, rng: np.random.Generator, n: int = 5) -> list[str]:
    """n differently worded captions, from terse to detailed (COCO-style annotator variety)."""
    gids = S.groups(scene)
    first = gids[0]
    cats = [c for c in S.categories(scene)]
    bg = scene["background"]["name"]
    main = group_phrase(scene, first, position=False, size=False, texture=False)
    pool = [
        f"{short_caption(scene)} on a {bg} background.",
        f"there {'is' if len(S.group_objects(scene, first)) == 1 else 'are'} {short_caption(scene)} in this picture.",
        f"{main} {position_phrase(*S.group_centre(scene, first))}.",
        f"a picture with {join([counted(c, S.count(scene, c)) for c in cats])}.",
        detailed_caption(scene),
        f"a {bg} scene showing {join([group_phrase(scene, g, orientation=False) for g in gids])}.",
        f"{join([group_phrase(scene, g, position=False) for g in gids])}.",
        f"an illustration of {join([counted(c, S.count(scene, c)) for c in cats])} against a {bg} backdrop.",
    ]
    order = rng.permutation(len(pool))[:n]
    out = []
    for i in order:
        s = pool[int(i)].strip()
        out.append(s[0].upper() + s[1:])
    return out


def tokens(raw: str) -> list[str]:
    """Karpathy-style tokens: lower case words without punctuation."""
    return re.findall(r"[a-z0-9]+", raw.lower())
