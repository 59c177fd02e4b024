"""HallusionBench: yes/no questions about original and edited figures, scored per question, per
figure and per question pair, without a judge model.

Data under ``<root>/hallusionbench/``, either layout:

- ``HallusionBench.json`` from tianyi-lab/HallusionBench: a list of ``{category ("VD" visual
  dependent / "VS" visual supplement), subcategory, visual_input ("0" = no image), set_id,
  figure_id, question_id, question, gt_answer ("1" yes / "0" no), gt_answer_details, filename
  ("./hallusion_bench/VD/illusion/0_0.png", relative to this folder; null without an image)}``;
  the images unpacked from ``hallusion_bench.zip`` into ``hallusion_bench/``;
- the lmms-lab/HallusionBench parquet files (``*.parquet`` or ``data/*.parquet``: the same
  columns plus ``image`` = {bytes, path}, null for the questions without an image). Used when the
  JSON file is absent.

Sample id: ``{category}_{subcategory}_{set_id}_{figure_id}_{question_id}`` (the official key).
Questions without an image (VS, figure 0) are asked as text only.

Scoring (``utils.py`` of the official repository, its judge replaced by a rule): responses are read
with VLMEvalKit's rule (:func:`deem_eval.metrics.yesno_rules.yorn_answer`); a reading equal to
the ground truth is correct, "unknown" plays the judge's "unclear", which the official
``assign_correctness`` counts as correct only for the VS questions asked without the figure;
anything else is wrong. Metrics in percent, overall and per category (``_VD``, ``_VS``):

- ``aAcc``: correct questions / questions;
- ``fAcc``: figures (category, subcategory, set, figure; VS figure 0 has none) whose questions
  are all correct / figures;
- ``qAcc`` (headline): question pairs — the same question (category, subcategory, set,
  question_id) over all figures of its set — all correct / pairs.

A figure or pair with an errored question is left out of fAcc/qAcc. Confidence intervals
resample whole sets (figures and pairs never straddle sets).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from deem_eval.bootstrap import safe_div
from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import files_fingerprint, read_json
from deem_eval.metrics.yesno_rules import NO, UNKNOWN, YES, yorn_answer
from deem_eval.parquet import find_parquet, parquet_rows
from deem_eval.registry import register_task
from deem_eval.samples import IMAGE_TOKEN, ImageRef, Sample

from .pope import YesNoTask

CATEGORIES = ("VD", "VS")
KEYS = ("category", "subcategory", "visual_input", "set_id", "figure_id", "question_id", "question", "gt_answer")
TEXT_ONLY_PROMPT = "Please answer the question. {question} Please answer yes or no."
LAYOUT = (
    "hallusionbench/HallusionBench.json (a list of {category, subcategory, visual_input, set_id, figure_id, "
    "question_id, question, gt_answer, filename}) with the images in hallusionbench/hallusion_bench/, or the "
    "lmms-lab/HallusionBench parquet files in hallusionbench/ or hallusionbench/data/"
)
PARQUET_COLUMNS = (*KEYS, "filename", "image")


@register_task("hallusionbench")
class HallusionBench(YesNoTask):
    """HallusionBench (image and text-only questions), qAcc/fAcc/aAcc with rule-based answers."""

    name = "hallusionbench"
    folder = "hallusionbench"
    expected = ("HallusionBench.json", "hallusion_bench")
    source = ("tianyi-lab/HallusionBench on GitHub (HallusionBench.json, hallusion_bench.zip), "
              "or the lmms-lab/HallusionBench parquet files from the Hugging Face Hub")
    metrics = tuple(f"{m}{c}" for c in ("", "_VD", "_VS") for m in ("qAcc", "fAcc", "aAcc"))
    headline = "qAcc"

    # ---- data --------------------------------------------------------------------------
    def parquet_files(self) -> list[Path]:
        return find_parquet(self.data_dir)

    def uses_parquet(self) -> bool:
        return not (self.data_dir / "HallusionBench.json").exists() and bool(self.parquet_files())

    def missing(self) -> list[str]:
        return [] if self.uses_parquet() else super().missing()

    def data_fingerprint(self) -> str:
        if not self.uses_parquet():
            return super().data_fingerprint()
        return files_fingerprint(self.data_dir, self.parquet_files())

    def samples(self) -> Iterator[Sample]:
        rows = self._parquet_rows() if self.uses_parquet() else self._json_rows()
        if not rows:
            raise DataError(self.data_dir / "HallusionBench.json", "holds no questions", expected=LAYOUT)
        figure_size = Counter(r["figure"] for r in rows)
        pair_size = Counter(r["pair"] for r in rows)
        for r in rows:
            yield Sample(id=r["id"], target=r["target"], image=r["image"], question=r["question"],
                         options=[YES, NO],
                         meta={"category": r["category"], "text_only": r["image"] is None,
                               "figure": r["figure"], "pair": r["pair"], "set": r["set"],
                               "figure_size": figure_size[r["figure"]], "pair_size": pair_size[r["pair"]]})

    def _json_rows(self) -> list[dict[str, Any]]:
        path = self.data_dir / "HallusionBench.json"
        doc = read_json(path, expected=LAYOUT)
        if not isinstance(doc, list):
            raise DataError(path, "the top level is not a list", expected=LAYOUT)
        rows, seen = [], set()
        for i, item in enumerate(doc):
            where = f"item {i}"
            if not isinstance(item, dict):
                raise DataError(path, f"{where} is not an object", expected=LAYOUT)
            row = self._row(item, path, where, seen)
            name = item.get("filename")
            if row.pop("has_image"):
                if not isinstance(name, str) or not name:
                    raise DataError(path, f"{where} has visual_input {item['visual_input']!r} but no filename",
                                    expected=LAYOUT)
                rel = name[2:] if name.startswith("./") else name
                row["image"] = ImageRef(key=rel, path=inside(self.data_dir, rel, f"{where} filename", path))
            rows.append(row)
        return rows

    def _parquet_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for path in self.parquet_files():
            for row_no, item in parquet_rows(path, PARQUET_COLUMNS, LAYOUT):
                row = self._row(item, path, f"row {row_no}", seen)
                if row.pop("has_image"):
                    image = item["image"] or {}
                    if not image.get("bytes"):
                        raise DataError(path, f"row {row_no}: image has no bytes", expected=LAYOUT)
                    row["image"] = ImageRef(key=str(item["filename"] or row["id"]), data=image["bytes"])
                rows.append(row)
        return rows

    @staticmethod
    def _row(item: dict[str, Any], path: Path, where: str, seen: set[str]) -> dict[str, Any]:
        absent = [k for k in KEYS if item.get(k) is None]
        if absent:
            raise DataError(path, f"{where} lacks {', '.join(absent)}", expected=LAYOUT)
        cat, sub, set_id, fig, qid = (str(item[k]) for k in ("category", "subcategory", "set_id", "figure_id",
                                                              "question_id"))
        if cat not in CATEGORIES:
            raise DataError(path, f"{where}: category {cat!r} is not VD or VS", expected=LAYOUT)
        gt = str(item["gt_answer"]).strip()
        if gt not in ("0", "1"):
            raise DataError(path, f"{where}: gt_answer {item['gt_answer']!r} is not 0 or 1", expected='"0" or "1"')
        sid = f"{cat}_{sub}_{set_id}_{fig}_{qid}"
        if sid in seen:
            raise DataError(path, f"{where}: duplicate question {sid}")
        seen.add(sid)
        return {"id": sid, "target": YES if gt == "1" else NO, "question": str(item["question"]), "category": cat,
                "image": None, "has_image": str(item["visual_input"]).strip() != "0",
                "figure": None if cat == "VS" and fig == "0" else f"{cat}_{sub}_{set_id}_{fig}",
                "pair": f"{cat}_{sub}_{set_id}_{qid}", "set": f"{cat}_{sub}_{set_id}"}

    # ---- prompting ---------------------------------------------------------------------
    def prompt(self, sample: Sample) -> str:
        if sample.image is None:
            return TEXT_ONLY_PROMPT.format(question=sample.question)
        return self.prompt_template.format(image=IMAGE_TOKEN, question=sample.question)

    # ---- scoring -------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        parsed = yorn_answer(prediction)
        lenient = sample.meta["category"] == "VS" and sample.meta["figure"] is None  # "unclear" is fine
        correct = parsed == sample.target or (parsed == UNKNOWN and lenient)
        meta = sample.meta
        return {"score": float(correct), "parsed": parsed, "category": meta["category"], "set": meta["set"],
                "figure": meta["figure"], "pair": meta["pair"],
                "figure_size": meta["figure_size"], "pair_size": meta["pair_size"]}

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Credit each complete figure and pair once, on its first record."""
        for kind in ("figure", "pair"):
            groups: dict[str, list[int]] = defaultdict(list)
            for i, r in enumerate(records):
                r[f"{kind}_n"], r[f"{kind}_correct"] = 0.0, 0.0
                if r[kind] is not None:
                    groups[r[kind]].append(i)
            for members in groups.values():
                first = records[members[0]]
                if len(members) == first[f"{kind}_size"]:
                    first[f"{kind}_n"] = 1.0
                    first[f"{kind}_correct"] = float(all(records[m]["score"] == 1.0 for m in members))

    def bootstrap_units(self, records: Sequence[dict[str, Any]]) -> list[list[int]]:
        sets: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            sets[r["set"]].append(i)
        return list(sets.values())

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        for suffix in ("", f"_{record['category']}"):
            out[f"q{suffix}"] = 1.0
            out[f"q_correct{suffix}"] = float(record["score"])
            for kind in ("figure", "pair"):
                out[f"{kind}{suffix}"] = record.get(f"{kind}_n", 0.0)
                out[f"{kind}_correct{suffix}"] = record.get(f"{kind}_correct", 0.0)
        return out

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for suffix in ("", "_VD", "_VS"):
            if f"q{suffix}" not in totals:
                continue
            out[f"qAcc{suffix}"] = 100 * safe_div(totals[f"pair_correct{suffix}"], totals[f"pair{suffix}"])
            out[f"fAcc{suffix}"] = 100 * safe_div(totals[f"figure_correct{suffix}"], totals[f"figure{suffix}"])
            out[f"aAcc{suffix}"] = 100 * safe_div(totals[f"q_correct{suffix}"], totals[f"q{suffix}"])
        return out
