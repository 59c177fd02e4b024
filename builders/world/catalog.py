"""The vocabulary of the synthetic world: categories, scene types, colours, textures, backgrounds.

Categories come in scene types (clusters) with skewed frequencies, so that "popular" and
"co-occurring" objects are well defined for POPE-style negatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Category:
    """One object category and the words and facts the generators use for it."""

    name: str
    plural: str
    scene: str
    orientations: tuple[str, ...] = ()  # empty: symmetric, no orientation attribute
    states: tuple[str, ...] = ()  # e.g. ("open", "closed"); empty: no state attribute
    facing: str = "facing"  # verb used with an orientation ("facing left", "pointing up")
    synonyms: tuple[str, ...] = ()
    knowledge_q: str = ""
    knowledge_a: tuple[str, ...] = ()
    kind: str = "object"  # object / animal / plant / vehicle / building / sky

    @property
    def article(self) -> str:
        return "an" if self.name[0] in "aeiou" else "a"


LR = ("left", "right")
UDLR = ("left", "right", "up", "down")

CATEGORIES: tuple[Category, ...] = (
    # home
    Category("cup", "cups", "home", LR, facing="with its handle on the", synonyms=("mug",),
             knowledge_q="What drink is often served in this?", knowledge_a=("coffee", "tea")),
    Category("lamp", "lamps", "home", states=("on", "off"), synonyms=("light",),
             knowledge_q="What does this object give off?", knowledge_a=("light", "heat")),
    Category("key", "keys", "home", LR, facing="pointing",
             knowledge_q="What is this used to open?", knowledge_a=("door", "lock")),
    Category("bell", "bells", "home",
             knowledge_q="What does this make when you shake it?", knowledge_a=("sound", "noise")),
    # garden
    Category("flower", "flowers", "garden", synonyms=("blossom",), kind="plant",
             knowledge_q="What insect visits this for nectar?", knowledge_a=("bee", "butterfly")),
    Category("tree", "trees", "garden", kind="plant",
             knowledge_q="What is the trunk of this made of?", knowledge_a=("wood", "bark")),
    Category("mushroom", "mushrooms", "garden", synonyms=("toadstool",), kind="plant",
             knowledge_q="What kingdom of life does this belong to?", knowledge_a=("fungi", "fungus")),
    Category("leaf", "leaves", "garden", LR, facing="pointing", kind="plant",
             knowledge_q="In which season do these fall from trees?", knowledge_a=("autumn", "fall")),
    # sea
    Category("fish", "fish", "sea", LR, kind="animal",
             knowledge_q="Where does this animal live?", knowledge_a=("water", "ocean")),
    Category("boat", "boats", "sea", LR, synonyms=("sailboat", "ship"), kind="vehicle",
             knowledge_q="What does this vehicle travel on?", knowledge_a=("water", "sea")),
    Category("anchor", "anchors", "sea",
             knowledge_q="What is this used to hold in place?", knowledge_a=("boat", "ship")),
    Category("shell", "shells", "sea", synonyms=("seashell",),
             knowledge_q="Where would you usually find this?", knowledge_a=("beach", "sea")),
    # sky
    Category("bird", "birds", "sky", LR, kind="animal",
             knowledge_q="What can this animal do that a dog cannot?", knowledge_a=("fly", "flying")),
    Category("kite", "kites", "sky",
             knowledge_q="What kind of weather do you need to fly this?", knowledge_a=("wind", "windy")),
    Category("moon", "moons", "sky", LR, synonyms=("crescent",), kind="sky",
             knowledge_q="At what time of day do you usually see this?", knowledge_a=("night", "evening")),
    Category("star", "stars", "sky", kind="sky",
             knowledge_q="At what time of day do you usually see this?", knowledge_a=("night", "evening")),
    # street
    Category("car", "cars", "street", LR, synonyms=("automobile",), kind="vehicle",
             knowledge_q="What fuel does this vehicle use?", knowledge_a=("gas", "petrol")),
    Category("house", "houses", "street", synonyms=("home", "building"), kind="building",
             knowledge_q="What do people do in this building?", knowledge_a=("live", "sleep")),
    Category("umbrella", "umbrellas", "street", states=("open", "closed"),
             knowledge_q="What weather is this used for?", knowledge_a=("rain", "rainy")),
    Category("boot", "boots", "street", LR, facing="pointing", synonyms=("shoe",),
             knowledge_q="On which body part is this worn?", knowledge_a=("foot", "feet")),
    # play
    Category("ball", "balls", "play",
             knowledge_q="What game is played with this?", knowledge_a=("soccer", "football")),
    Category("box", "boxes", "play", states=("closed", "open"), synonyms=("crate",),
             knowledge_q="What is this used for?", knowledge_a=("storage", "packing")),
    Category("hammer", "hammers", "play", LR, facing="with its head on the", synonyms=("mallet",),
             knowledge_q="What is this used to hit?", knowledge_a=("nail", "nails")),
    Category("arrow", "arrows", "play", UDLR, facing="pointing", synonyms=("sign",),
             knowledge_q="What does this sign show?", knowledge_a=("direction", "way")),
)

BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}
NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)


@dataclass(frozen=True)
class SceneType:
    """A cluster of categories that tend to appear together, with its background."""

    name: str
    weight: float
    members: tuple[str, ...]
    member_weights: tuple[float, ...]
    background: tuple[int, int, int]
    background_name: str
    alt_backgrounds: tuple[tuple[str, tuple[int, int, int]], ...] = field(default=())


SCENE_TYPES: tuple[SceneType, ...] = (
    SceneType("home", 0.27, ("cup", "lamp", "key", "bell"), (0.4, 0.3, 0.2, 0.1), (236, 224, 204), "beige"),
    SceneType("garden", 0.21, ("flower", "tree", "mushroom", "leaf"), (0.4, 0.3, 0.2, 0.1),
              (204, 232, 194), "pale green"),
    SceneType("sea", 0.17, ("fish", "boat", "anchor", "shell"), (0.4, 0.3, 0.2, 0.1), (176, 214, 238), "light blue"),
    SceneType("sky", 0.14, ("bird", "kite", "moon", "star"), (0.4, 0.3, 0.2, 0.1), (212, 230, 250), "sky blue"),
    SceneType("street", 0.12, ("car", "house", "umbrella", "boot"), (0.4, 0.3, 0.2, 0.1), (214, 214, 214),
              "light gray"),
    SceneType("play", 0.09, ("ball", "box", "hammer", "arrow"), (0.4, 0.3, 0.2, 0.1), (232, 222, 242), "lavender"),
)
SCENE_BY_NAME: dict[str, SceneType] = {s.name: s for s in SCENE_TYPES}

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40),
    "orange": (245, 135, 20),
    "yellow": (238, 210, 30),
    "green": (44, 160, 44),
    "blue": (31, 80, 220),
    "purple": (128, 60, 180),
    "pink": (240, 120, 190),
    "brown": (130, 80, 40),
    "white": (250, 250, 250),
    "black": (28, 28, 28),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
# The colour an annotator confuses a colour with (VQA annotator noise) and MMVP colour contrasts.
NEAR_COLOUR = {"red": "orange", "orange": "red", "yellow": "orange", "green": "blue", "blue": "purple",
               "purple": "blue", "pink": "red", "brown": "orange", "white": "gray", "black": "brown"}

TEXTURES: tuple[str, ...] = ("solid", "striped", "dotted", "checkered")
TEXTURE_WEIGHTS: tuple[float, ...] = (0.55, 0.2, 0.15, 0.1)
TEXTURE_ADJ = {"solid": "", "striped": "striped", "dotted": "dotted", "checkered": "checkered"}

# Object extent in pixels at 64 px (the longer side), per size word.
SIZES: dict[str, tuple[int, int]] = {"small": (11, 13), "medium": (15, 18), "large": (21, 25)}
SIZE_NAMES: tuple[str, ...] = tuple(SIZES)

COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

RENDITION_STYLES: tuple[str, ...] = ("outline", "sketch", "texture", "pixel")
ADVERSARIAL_EFFECTS: tuple[str, ...] = ("clutter", "occlusion", "distractors", "scale", "colour")


def wnid(index: int) -> str:
    """A wnid-like folder name (n + 8 digits) that cannot collide with a real ImageNet wnid."""
    return f"n99{index:06d}"
