"""COCO caption metrics: pycocoevalcap's scorers on one PTB tokenisation of refs and candidates.

This is what ``COCOEvalCap.evaluate()`` computes minus SPICE (whose constructor downloads
models): the Stanford PTB tokenizer (Java) runs once over references and candidates together,
then Bleu(4), Meteor (Java), Rouge (ROUGE_L) and Cider (CIDEr-D) score the same tokenised
dictionaries. Values here are on the scorers' own scale (0-1, CIDEr about 0-10); tasks
multiply by 100 for reporting.

Per-item values are returned as well so that tasks can bootstrap over images:

- CIDEr and ROUGE_L corpus values are exactly the mean of the per-item values (CIDEr's
  document frequencies come from the whole evaluated set and stay fixed when resampling);
- corpus BLEU is a function of summed per-item n-gram statistics (matches, guesses,
  candidate length, closest reference length), returned by :func:`bleu_item_stats` and
  turned into BLEU-1..4 by :func:`bleu_from_stats` exactly as pycocoevalcap's BleuScorer does;
- corpus METEOR is the Java scorer's aggregate over summed alignment statistics, which the
  wrapper does not expose, so only its per-item scores are available for resampling.
"""

from __future__ import annotations

import atexit
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError

JAVA_MISSING = (
    "Java (a JRE) is required for the COCO PTB tokenizer and METEOR used by caption metrics, "
    "but no `java` executable is on PATH (install one, e.g. `apt-get install default-jre-headless`)"
)
METRIC_NAMES = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
BLEU_N = 4
BLEU_STAT_KEYS = ("bleu_testlen", "bleu_reflen", *(f"bleu_{kind}_{k}" for k in range(1, BLEU_N + 1)
                                                  for kind in ("guess", "correct")))
_TINY, _SMALL = 1e-15, 1e-9  # BleuScorer's guards against zero counts


def require_java() -> None:
    """Raise a UserError (exit 2) when no Java runtime is on PATH."""
    if shutil.which("java") is None:
        raise UserError(JAVA_MISSING)


def clean_caption(text: str) -> str:
    """One line of text: the tokenizer reads one caption per line, so any line break would shift them."""
    return " ".join(str(text).split())


def ptb_tokenize(refs: Sequence[Sequence[str]], cands: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """Tokenise references and candidates with a single PTBTokenizer (Java) call.

    Empty captions are not sent (they tokenise to the empty string anyway), and the number of
    lines coming back is checked, so a caption can never be paired with another's tokens.
    """
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    require_java()
    if len(refs) != len(cands):
        raise ValueError(f"{len(refs)} reference lists for {len(cands)} candidates")
    batch: dict[tuple[str, int, int], list[dict[str, str]]] = {}
    for i, (rs, c) in enumerate(zip(refs, cands, strict=True)):
        for j, r in enumerate(rs):
            if clean_caption(r):
                batch[("ref", i, j)] = [{"caption": clean_caption(r)}]
        if clean_caption(c):
            batch[("cand", i, 0)] = [{"caption": clean_caption(c)}]
    if batch:
        try:
            out = PTBTokenizer().tokenize(batch)
        except OSError as exc:
            raise UserError(f"the PTB tokenizer could not run ({exc}); it writes a temp file next to its jar") from exc
        missing = [k for k in batch if len(out.get(k, ())) != 1]
        if missing:
            raise RuntimeError(f"the PTB tokenizer returned no line for {len(missing)} of {len(batch)} captions")
    else:
        out = {}
    tok_refs = [[out[("ref", i, j)][0] if ("ref", i, j) in out else "" for j in range(len(rs))] for i, rs in enumerate(refs)]
    tok_cands = [out[("cand", i, 0)][0] if ("cand", i, 0) in out else "" for i in range(len(cands))]
    return tok_refs, tok_cands


def bleu_item_stats(ref_tokens: Sequence[str], cand_tokens: str) -> dict[str, float]:
    """Summable BLEU statistics of one tokenised candidate (BleuScorer's own counting, 'closest' length)."""
    from pycocoevalcap.bleu.bleu_scorer import cook_refs, cook_test

    cooked = cook_test(cand_tokens, cook_refs(list(ref_tokens), n=BLEU_N), n=BLEU_N)
    testlen = cooked["testlen"]
    reflen = min((abs(length - testlen), length) for length in cooked["reflen"])[1]
    stats = {"bleu_testlen": float(testlen), "bleu_reflen": float(reflen)}
    for k in range(BLEU_N):
        stats[f"bleu_guess_{k + 1}"] = float(cooked["guess"][k])
        stats[f"bleu_correct_{k + 1}"] = float(cooked["correct"][k])
    return stats


def bleu_from_stats(totals: Mapping[str, Any]) -> dict[str, Any]:
    """Corpus BLEU-1..4 (0-1) from summed :func:`bleu_item_stats`; element-wise on arrays."""
    testlen = np.asarray(totals["bleu_testlen"], dtype=np.float64)
    reflen = np.asarray(totals["bleu_reflen"], dtype=np.float64)
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        brevity = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
    out: dict[str, Any] = {}
    prod = np.ones_like(testlen)
    for k in range(1, BLEU_N + 1):
        correct = np.asarray(totals[f"bleu_correct_{k}"], dtype=np.float64)
        guess = np.asarray(totals[f"bleu_guess_{k}"], dtype=np.float64)
        prod = prod * (correct + _TINY) / (guess + _SMALL)
        value = prod ** (1.0 / k) * brevity
        out[f"Bleu_{k}"] = value if value.ndim else float(value)
    return out


@dataclass
class CaptionScores:
    """Corpus metrics (``METRIC_NAMES``, scorer scale) and per-item values in input order."""

    corpus: dict[str, float]
    items: list[dict[str, float]]
    tokenized_refs: list[list[str]]
    tokenized_cands: list[str]


def score_captions(refs: Sequence[Sequence[str]], cands: Sequence[str]) -> CaptionScores:
    """Score candidates against reference lists with BLEU-1..4, METEOR, ROUGE_L and CIDEr-D.

    Each item's per-item record holds ``bleu_1..4``, ``meteor``, ``rouge_l``, ``cider`` and the
    summable BLEU statistics of :func:`bleu_item_stats`.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if not cands:
        raise ValueError("no captions to score")
    if any(len(rs) == 0 for rs in refs):
        raise ValueError("every candidate needs at least one reference")
    tok_refs, tok_cands = ptb_tokenize(refs, cands)
    gts = {i: rs for i, rs in enumerate(tok_refs)}
    res = {i: [c] for i, c in enumerate(tok_cands)}

    bleu, bleu_items = Bleu(BLEU_N).compute_score(gts, res, verbose=0)
    meteor, meteor_items = _meteor(gts, res)
    rouge, rouge_items = Rouge().compute_score(gts, res)
    cider, cider_items = Cider().compute_score(gts, res)

    corpus = {f"Bleu_{k + 1}": float(bleu[k]) for k in range(BLEU_N)}
    corpus.update(METEOR=float(meteor), ROUGE_L=float(rouge), CIDEr=float(cider))
    items = []
    for i in range(len(cands)):
        item = {f"bleu_{k + 1}": float(bleu_items[k][i]) for k in range(BLEU_N)}
        item.update(meteor=float(meteor_items[i]), rouge_l=float(rouge_items[i]), cider=float(cider_items[i]))
        item.update(bleu_item_stats(tok_refs[i], tok_cands[i]))
        items.append(item)
    return CaptionScores(corpus, items, tok_refs, tok_cands)


_METEOR: Any = None  # one METEOR JVM per process: loading its paraphrase tables takes ~20 s


def _meteor_scorer() -> Any:
    """The process-wide METEOR scorer, started on first use and restarted if its JVM died."""
    global _METEOR
    from pycocoevalcap.meteor.meteor import Meteor

    if _METEOR is None or _METEOR.meteor_p.poll() is not None:
        require_java()
        _METEOR = Meteor()
        atexit.register(_close_meteor)
    return _METEOR


def _close_meteor() -> None:
    global _METEOR
    scorer, _METEOR = _METEOR, None
    if scorer is not None and scorer.meteor_p.poll() is None:
        scorer.meteor_p.stdin.close()
        scorer.meteor_p.kill()
        scorer.meteor_p.wait()


def _meteor(gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, list[float]]:
    """Run METEOR 1.5 (Java); a failed JVM becomes a clear error and is restarted next time."""
    scorer = _meteor_scorer()
    # "|||" separates fields in the METEOR protocol; the wrapper strips it from candidates only
    gts = {k: [r.replace("|||", " ") for r in refs] for k, refs in gts.items()}
    try:
        score, scores = scorer.compute_score(gts, res)
    except (ValueError, BrokenPipeError, OSError) as exc:
        err = b""
        if scorer.meteor_p.poll() is not None and scorer.meteor_p.stderr is not None:
            err = scorer.meteor_p.stderr.read()[-500:]
        if scorer.lock.locked():
            scorer.lock.release()
        _close_meteor()
        raise RuntimeError(f"METEOR (java -jar meteor-1.5.jar) failed: {exc}; {err.decode(errors='replace')}") from exc
    return float(score), [float(s) for s in scores]
