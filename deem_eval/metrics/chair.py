"""CHAIR (Rohrbach et al., 2018): object hallucination in generated captions.

The rules of the official ``utils/chair.py`` (LisaAnne/Hallucination), reproduced:

1. a caption is lower-cased, tokenised with NLTK's word tokenizer and every word singularised;
2. two-word names are joined ("hot dog", "teddy bear", "traffic light" ...), "baby"/"adult" +
   animal reads as the animal, "passenger jet/train" as jet/train, "bow tie" as tie, "toilet
   seat" as toilet, and "home plate" and "train track" are consumed so that they do not count as
   a plate or a train; "seat" is dropped when "toilet" is in the caption;
3. the remaining words found in the synonym list (80 COCO categories and their synonyms) are the
   caption's object mentions, each mapped to its category (the list's first word);
4. a mention is hallucinated when its category is not among the image's ground-truth objects
   (COCO instance annotations plus the categories named in the image's reference captions).

``CHAIR_i`` = hallucinated mentions / all mentions, ``CHAIR_s`` = captions with a hallucinated
mention / captions, and ``recall`` = ground-truth categories mentioned / ground-truth categories
(summed over images, as the widely used extended script computes it); all in percent.

Offline reproduction of the language resources. The official script singularises with
``pattern.en.singularize`` (later copies use NLTK's WordNet lemmatiser); both need downloaded
data, and NLTK's ``word_tokenize`` needs the Punkt model. Here sentences are split by NLTK's Punkt
tokenizer with default parameters (no trained abbreviations) and words by ``NLTKWordTokenizer``
(the tokenizer ``word_tokenize`` runs per sentence); every word is singularised as a noun with
``lemminflect`` (its lexicon ships in the wheel), except words that are themselves in the
vocabulary ("skis", "scissors", "people", "children" stay as written, as in the synonym list),
and where the lexicon offers several lemmas one in the vocabulary wins ("leaves" -> "leaf").
Tests check this on hand-worked words and captions.

The synonym list keeps the official file's quirks, because scores depend on them: entries are
split on ", ", so " motor bike" and " cheesecake" (written after a double space) keep a leading
space and never match; duplicates are harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..bootstrap import safe_div

# The official synonyms.txt: one COCO category per line, its name first, then its synonyms.
COCO_SYNONYMS = """\
person, girl, boy, man, woman, kid, child, chef, baker, people, adult, rider, children, baby, worker, passenger, sister, biker, policeman, cop, officer, lady, cowboy, bride, groom, male, female, guy, traveler, mother, father, gentleman, pitcher, player, skier, snowboarder, skater, skateboarder, person, woman, guy, foreigner, child, gentleman, caller, offender, coworker, trespasser, patient, politician, soldier, grandchild, serviceman, walker, drinker, doctor, bicyclist, thief, buyer, teenager, student, camper, driver, solider, hunter, shopper, villager
bicycle, bike, bicycle, bike, unicycle, minibike, trike
car, automobile, van, minivan, sedan, suv, hatchback, cab, jeep, coupe, taxicab, limo, taxi
motorcycle, scooter,  motor bike, motor cycle, motorbike, scooter, moped
airplane, jetliner, plane, air plane, monoplane, aircraft, jet, jetliner, airbus, biplane, seaplane
bus, minibus, trolley
train, locomotive, tramway, caboose
truck, pickup, lorry, hauler, firetruck
boat, ship, liner, sailboat, motorboat, dinghy, powerboat, speedboat, canoe, skiff, yacht, kayak, catamaran, pontoon, houseboat, vessel, rowboat, trawler, ferryboat, watercraft, tugboat, schooner, barge, ferry, sailboard, paddleboat, lifeboat, freighter, steamboat, riverboat, battleship, steamship
traffic light, street light, traffic signal, stop light, streetlight, stoplight
fire hydrant, hydrant
stop sign
parking meter
bench, pew
bird, ostrich, owl, seagull, goose, duck, parakeet, falcon, robin, pelican, waterfowl, heron, hummingbird, mallard, finch, pigeon, sparrow, seabird, osprey, blackbird, fowl, shorebird, woodpecker, egret, chickadee, quail, bluebird, kingfisher, buzzard, willet, gull, swan, bluejay, flamingo, cormorant, parrot, loon, gosling, waterbird, pheasant, rooster, sandpiper, crow, raven, turkey, oriole, cowbird, warbler, magpie, peacock, cockatiel, lorikeet, puffin, vulture, condor, macaw, peafowl, cockatoo, songbird
cat, kitten, feline, tabby
dog, puppy, beagle, pup, chihuahua, schnauzer, dachshund, rottweiler, canine, pitbull, collie, pug, terrier, poodle, labrador, doggie, doberman, mutt, doggy, spaniel, bulldog, sheepdog, weimaraner, corgi, cocker, greyhound, retriever, brindle, hound, whippet, husky
horse, colt, pony, racehorse, stallion, equine, mare, foal, palomino, mustang, clydesdale, bronc, bronco
sheep, lamb, ram, lamb, goat, ewe
cow, cattle, oxen, ox, calf, cattle, holstein, heifer, buffalo, bull, zebu, bison
elephant
bear, panda
zebra
giraffe
backpack, knapsack
umbrella
handbag, wallet, purse, briefcase
tie, bow, bow tie
suitcase, suit case, luggage
frisbee
skis, ski
snowboard
sports ball, ball
kite
baseball bat
baseball glove
skateboard
surfboard, longboard, skimboard, shortboard, wakeboard
tennis racket, racket
bottle
wine glass
cup
fork
knife, pocketknife, knive
spoon
bowl, container
banana
apple
sandwich, burger, sub, cheeseburger, hamburger
orange
broccoli
carrot
hot dog
pizza
donut, doughnut, bagel
cake,  cheesecake, cupcake, shortcake, coffeecake, pancake
chair, seat, stool
couch, sofa, recliner, futon, loveseat, settee, chesterfield
potted plant, houseplant
bed
dining table, table, desk
toilet, urinal, commode, toilet, lavatory, potty
tv, monitor, televison, television
laptop, computer, notebook, netbook, lenovo, macbook, laptop computer
mouse
remote
keyboard
cell phone, mobile phone, phone, cellphone, telephone, phon, smartphone, iPhone
microwave
oven, stovetop, stove, stove top oven
toaster
sink
refrigerator, fridge, fridge, freezer
book
clock
vase
scissors
teddy bear, teddybear
hair drier, hairdryer
toothbrush
"""

COCO_DOUBLE_WORDS = (
    "motor bike", "motor cycle", "air plane", "traffic light", "street light", "traffic signal", "stop light",
    "fire hydrant", "stop sign", "parking meter", "suit case", "sports ball", "baseball bat", "baseball glove",
    "tennis racket", "wine glass", "hot dog", "cell phone", "mobile phone", "teddy bear", "hair drier",
    "potted plant", "bow tie", "laptop computer", "stove top oven", "home plate", "train track",
)
ANIMAL_WORDS = ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "animal", "cub")
VEHICLE_WORDS = ("jet", "train")
COUNT_KEYS = ("captions", "hallucinated_captions", "mentions", "hallucinated_mentions", "gt_objects",
              "recalled_objects")
METRIC_NAMES = ("CHAIR_s", "CHAIR_i", "recall")


def parse_synonyms(text: str) -> list[list[str]]:
    """Lines of 'category, synonym, ...' as the official script splits them (on ', ')."""
    return [line.strip().split(", ") for line in text.splitlines() if line.strip()]


def double_word_map() -> dict[str, str]:
    """The official two-word rules: joined names, qualified animals and vehicles, special cases."""
    out = {w: w for w in COCO_DOUBLE_WORDS}
    for animal in ANIMAL_WORDS:
        out[f"baby {animal}"] = animal
        out[f"adult {animal}"] = animal
    for vehicle in VEHICLE_WORDS:
        out[f"passenger {vehicle}"] = vehicle
    out["bow tie"] = "tie"
    out["toilet seat"] = "toilet"
    out["wine glas"] = "wine glass"
    return out


@dataclass(frozen=True)
class Vocabulary:
    """Object words: word -> category (its node word), and the two-word rules."""

    node: Mapping[str, str]
    double: Mapping[str, str]

    @classmethod
    def from_synonyms(cls, groups: Iterable[Sequence[str]]) -> Vocabulary:
        node: dict[str, str] = {}
        for group in groups:
            for word in group:
                node[word] = group[0]
        return cls(node=node, double=double_word_map())

    @property
    def keep_as_written(self) -> frozenset[str]:
        """Words never singularised: the vocabulary and the parts of the two-word names."""
        words = set(self.node)
        for phrase in (*self.double, *self.double.values()):
            words.update(phrase.split())
        return frozenset(words)


@lru_cache(maxsize=1)
def coco_vocabulary() -> Vocabulary:
    return Vocabulary.from_synonyms(parse_synonyms(COCO_SYNONYMS))


@lru_cache(maxsize=1)
def _tokenizers() -> tuple[Any, Any]:
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    return PunktSentenceTokenizer(), NLTKWordTokenizer()


def words(caption: str) -> list[str]:
    """Lower-cased NLTK word tokens of a caption (Punkt sentence split with default parameters)."""
    sentences, tokenizer = _tokenizers()
    return [w for s in sentences.tokenize(caption.lower()) for w in tokenizer.tokenize(s)]


def singularize(word: str, keep: frozenset[str] = frozenset()) -> str:
    """The word's noun lemma (``lemminflect``), preferring one in ``keep``; ``keep`` words unchanged."""
    if word in keep or not word.isalpha():
        return word
    from lemminflect import getLemma

    lemmas = getLemma(word, upos="NOUN") or (word,)
    return next((lemma for lemma in lemmas if lemma in keep), lemmas[0])


def caption_objects(caption: str, vocab: Vocabulary) -> list[tuple[str, str]]:
    """(word, category) for every object mention in the caption, in order."""
    keep = vocab.keep_as_written
    toks = [singularize(w, keep) for w in words(caption)]
    joined: list[str] = []
    i = 0
    while i < len(toks):
        pair = " ".join(toks[i:i + 2])
        if pair in vocab.double:
            joined.append(vocab.double[pair])
            i += 2
        else:
            joined.append(toks[i])
            i += 1
    if "toilet" in joined and "seat" in joined:  # "the seat of the toilet" is not a chair
        joined = [w for w in joined if w != "seat"]
    return [(w, vocab.node[w]) for w in joined if w in vocab.node]


def caption_counts(caption: str, gt_objects: Iterable[str], vocab: Vocabulary) -> dict[str, Any]:
    """Per-caption CHAIR statistics (summable) and the hallucinated words, for one image."""
    gt = set(gt_objects)
    mentions = caption_objects(caption, vocab)
    hallucinated = [(w, n) for w, n in mentions if n not in gt]
    recalled = {n for _, n in mentions if n in gt}
    return {
        "captions": 1.0,
        "hallucinated_captions": float(bool(hallucinated)),
        "mentions": float(len(mentions)),
        "hallucinated_mentions": float(len(hallucinated)),
        "gt_objects": float(len(gt)),
        "recalled_objects": float(len(recalled)),
        "mentioned": [n for _, n in mentions],
        "hallucinated": [w for w, _ in hallucinated],
    }


def chair_metrics(totals: Mapping[str, Any]) -> dict[str, Any]:
    """CHAIR_s, CHAIR_i and recall in percent from summed counts (arrays work too)."""
    return {
        "CHAIR_s": 100 * safe_div(totals.get("hallucinated_captions", 0.0), totals.get("captions", 0.0)),
        "CHAIR_i": 100 * safe_div(totals.get("hallucinated_mentions", 0.0), totals.get("mentions", 0.0)),
        "recall": 100 * safe_div(totals.get("recalled_objects", 0.0), totals.get("gt_objects", 0.0)),
    }
