"""The official VQA accuracy (VQAv2, OK-VQA, VizWiz) and its summable per-answer-type state.

Algorithm of the official evaluation script, reproduced exactly:

1. newlines and tabs become spaces and the ends are stripped, for the prediction and for
   every ground-truth answer;
2. only when the ground-truth answers are *not* all identical, the answers and the prediction
   are normalised: punctuation (a fixed character list; each character is deleted when it
   touches a space or when the text has a digit-comma-digit group, otherwise replaced by a
   space; then every period not followed by a digit is removed), then lower-casing, number
   words to digits, dropping the articles a/an/the, and the contraction map;
3. the accuracy of a question is the mean, over the leave-one-out subsets of the answers
   (10 for VQA data), of min(1, matches / 3).

A consequence of step 2 worth knowing: when all ten answers are "yes", the prediction "Yes"
is compared as is and scores 0, as on the official server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..bootstrap import safe_div

PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")  # fmt: skip
NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
ARTICLES = frozenset({"a", "an", "the"})

# The official contraction table: "written form=normalised form" pairs. It maps spellings
# without (or with misplaced) apostrophes to the apostrophe form, and keeps the official
# table's oddities (capitalised keys that never match after lower-casing, "somebody'd" ->
# "somebodyd", identity entries) because scores depend on them.
_CONTRACTION_PAIRS = """
aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've
couldnt've=couldn't've didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've
hadn'tve=hadn't've hasnt=hasn't havent=haven't hed=he'd hed've=he'd've he'dve=he'd've hes=he's
howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm Ive=I've isnt=isn't itd=it'd
itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've
neednt=needn't notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at
'ow'sat='ow's'at shant=shan't shed've=she'd've she'dve=she'd've she's=she's shouldve=should've
shouldnt=shouldn't shouldnt've=shouldn't've shouldn'tve=shouldn't've somebody'd=somebodyd
somebodyd've=somebody'd've somebody'dve=somebody'd've somebodyll=somebody'll somebodys=somebody's
someoned=someone'd someoned've=someone'd've someone'dve=someone'd've someonell=someone'll
someones=someone's somethingd=something'd somethingd've=something'd've
something'dve=something'd've somethingll=something'll thats=that's thered=there'd
thered've=there'd've there'dve=there'd've therere=there're theres=there's theyd=they'd
theyd've=they'd've they'dve=they'd've theyll=they'll theyre=they're theyve=they've twas='twas
wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've werent=weren't whatll=what'll
whatre=what're whats=what's whatve=what've whens=when's whered=where'd wheres=where's
whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's
whove=who've whyll=why'll whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't
wouldnt've=wouldn't've wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll y'allll=y'all'll
yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've youd=you'd youd've=you'd've
you'dve=you'd've youll=you'll youre=you're youve=you've
"""
CONTRACTIONS: dict[str, str] = dict(pair.split("=", 1) for pair in _CONTRACTION_PAIRS.split())

_COMMA_BETWEEN_DIGITS = re.compile(r"(\d)(,)(\d)")
# The official pattern, kept verbatim: its "(?!<=\d)" is a lookahead that never blocks, so
# in effect a period is removed unless a digit follows it.
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_PERIOD_MAX_REPLACEMENTS = 32  # the official call passes re.UNICODE (= 32) as the count


def process_punctuation(text: str) -> str:
    out = text
    keep_glued = _COMMA_BETWEEN_DIGITS.search(text) is not None
    for p in PUNCTUATION:
        touches_space = p + " " in text or " " + p in text
        out = out.replace(p, "" if touches_space or keep_glued else " ")
    return _PERIOD.sub("", out, count=_PERIOD_MAX_REPLACEMENTS)


def process_digit_article(text: str) -> str:
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def _clean(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """Accuracy in [0, 1] of one prediction against the human answers (official algorithm)."""
    if not answers:
        raise ValueError("a VQA question needs at least one ground-truth answer")
    pred = _clean(prediction)
    gts = [_clean(a) for a in answers]
    if len(set(gts)) > 1:
        gts = [process_digit_article(process_punctuation(a)) for a in gts]
        pred = process_digit_article(process_punctuation(pred))
    matches = [g == pred for g in gts]
    total = sum(matches)
    return sum(min(1.0, (total - m) / 3) for m in matches) / len(gts)


def type_key(answer_type: str) -> str:
    """Metric-name form of an answer type: 'yes/no' -> 'yes_no'."""
    return re.sub(r"[^0-9a-z]+", "_", answer_type.lower()).strip("_") or "unknown"


def question_stats(accuracy: float, answer_type: str) -> dict[str, float]:
    """Summable statistics of one question: overall and per answer type."""
    key = type_key(answer_type)
    return {"n": 1.0, "acc": accuracy, f"n:{key}": 1.0, f"acc:{key}": accuracy}


def vqa_metrics(totals: Mapping[str, Any]) -> dict[str, Any]:
    """``accuracy`` and ``accuracy_<type>`` (percent) for every answer type present in ``totals``."""
    out = {"accuracy": 100 * safe_div(totals.get("acc", 0.0), totals.get("n", 0.0))}
    for name in sorted(k[2:] for k in totals if k.startswith("n:")):
        out[f"accuracy_{name}"] = 100 * safe_div(totals.get(f"acc:{name}", 0.0), totals[f"n:{name}"])
    return out


@dataclass
class VQAAccuracy:
    """Summable state of the VQA metric (update per question, merge across shards)."""

    sums: dict[str, float] = field(default_factory=dict)

    def update(self, prediction: str, answers: Sequence[str], answer_type: str) -> float:
        acc = vqa_accuracy(prediction, answers)
        for k, v in question_stats(acc, answer_type).items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        return acc

    def merge(self, other: VQAAccuracy) -> VQAAccuracy:
        keys = set(self.sums) | set(other.sums)
        return VQAAccuracy({k: self.sums.get(k, 0.0) + other.sums.get(k, 0.0) for k in keys})

    def compute(self) -> dict[str, float]:
        return {k: float(v) for k, v in vqa_metrics(self.sums).items()}
