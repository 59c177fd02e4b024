"""TextVQA val: questions that need reading text in the image, scored with the VQA accuracy.

Data under ``<root>/textvqa/``, either layout:

- ``TextVQA_0.5.1_val.json`` (``{dataset_type, dataset_name, dataset_version, data: [{question_id,
  image_id, question, answers (10 strings), image_classes, ...}]}``) with the images in
  ``train_images/{image_id}.jpg`` (TextVQA's val images ship in the train image archive); OCR
  tokens come from an entry's ``ocr_tokens`` when present, else from
  ``TextVQA_Rosetta_OCR_v0.2_val.json`` (``{data: [{image_id, ocr_tokens, ...}]}``) when that file
  is there;
- the lmms-lab/textvqa parquet files ``validation-*.parquet`` (in ``textvqa/`` or
  ``textvqa/data/``; columns ``question_id``, ``question``, ``image_id``, ``answers``, ``image`` =
  {bytes, path}, ``ocr_tokens``). Used when the JSON file is absent.

Sample id: ``question_id``. ``--task-args textvqa.ocr=true`` adds LLaVA's "Reference OCR token:
a, b, c" line (the tokens joined by ", ") to the prompt, for questions whose image has tokens; it
needs OCR tokens in the data and says so otherwise.

Metric (percent): ``accuracy``, the official VQA accuracy of ``deem_eval.metrics.vqa_eval`` (the
VQAv2 algorithm: normalisation unless all answers agree, mean over the leave-one-out subsets of
min(1, matches / 3)).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import files_fingerprint, read_json
from deem_eval.metrics.vqa_eval import vqa_accuracy, vqa_metrics
from deem_eval.parquet import find_parquet, open_parquet, parquet_rows
from deem_eval.registry import register_task
from deem_eval.samples import IMAGE_TOKEN, ImageRef, Sample
from deem_eval.task import Task, TaskConfig

QUESTIONS = "TextVQA_0.5.1_val.json"
OCR_FILE = "TextVQA_Rosetta_OCR_v0.2_val.json"
LAYOUT = (f"textvqa/{QUESTIONS} = {{data: [{{question_id, image_id, question, answers, ...}}]}} with images "
          "textvqa/train_images/{image_id}.jpg, or lmms-lab/textvqa validation-*.parquet files")
PARQUET_COLUMNS = ("question_id", "question", "image_id", "answers", "image")
INSTRUCTION = "\nAnswer the question using a single word or phrase."


@dataclasses.dataclass
class TextVQAConfig(TaskConfig):
    ocr: bool = False  # add "Reference OCR token: ..." (LLaVA's TextVQA prompt) to the question


@register_task("textvqa")
class TextVQA(Task):
    """TextVQA 0.5.1 val, open-ended answers, VQA accuracy."""

    name = "textvqa"
    folder = "textvqa"
    expected = (QUESTIONS, "train_images")
    source = ("textvqa.org: TextVQA_0.5.1_val.json, train_val_images.zip (train_images/) and optionally "
              "TextVQA_Rosetta_OCR_v0.2_val.json; or the lmms-lab/textvqa parquet files from the Hugging Face Hub")
    metrics = ("accuracy",)
    headline = "accuracy"
    output_type = "generate"
    prompt_template = "{image}{question}" + INSTRUCTION
    ocr_template = "{image}{question}\nReference OCR token: {ocr}" + INSTRUCTION
    max_new_tokens = 16
    Config = TextVQAConfig

    # ---- data ------------------------------------------------------------------------
    def parquet_files(self) -> list[Path]:
        return find_parquet(self.data_dir, "validation-*.parquet")

    def uses_parquet(self) -> bool:
        return not (self.data_dir / QUESTIONS).exists() and bool(self.parquet_files())

    def missing(self) -> list[str]:
        return [] if self.uses_parquet() else super().missing()

    def data_fingerprint(self) -> str:
        extra = self.parquet_files() if self.uses_parquet() else [self.data_dir / OCR_FILE]
        return files_fingerprint(self.data_dir, [p for p in extra if p.is_file()], salt=super().data_fingerprint())

    def samples(self) -> Iterator[Sample]:
        rows = self._parquet_rows() if self.uses_parquet() else self._json_rows()
        if self.config.ocr and not any(r["ocr"] is not None for r in rows):
            raise DataError(self.data_dir / QUESTIONS, "textvqa.ocr=true but the data has no OCR tokens",
                            expected=f"ocr_tokens in the entries or {OCR_FILE} beside it")
        seen: set[str] = set()
        for r in rows:
            if r["id"] in seen:
                raise DataError(r["path"], f"{r['where']}: duplicate question_id {r['id']}")
            seen.add(r["id"])
            yield Sample(id=r["id"], target=r["answers"], image=r["image"], question=r["question"],
                         meta={"ocr_tokens": r["ocr"] or []})

    def _json_rows(self) -> list[dict[str, Any]]:
        path = self.data_dir / QUESTIONS
        doc = read_json(path, expected=LAYOUT)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list) or not data:
            raise DataError(path, "no non-empty 'data' list", expected=LAYOUT)
        ocr = self._rosetta_tokens()
        rows = []
        for i, item in enumerate(data):
            where = f"data[{i}]"
            row = _check(item, path, where)
            image_id = row.pop("image_id")
            name = f"{image_id}.jpg"
            row["image"] = ImageRef(key=image_id, path=inside(self.data_dir / "train_images", name, f"{where} image",
                                                              path))
            tokens = item.get("ocr_tokens")
            row["ocr"] = _tokens(tokens, path, where) if tokens is not None else ocr.get(image_id)
            rows.append(row)
        return rows

    def _rosetta_tokens(self) -> dict[str, list[str]]:
        path = self.data_dir / OCR_FILE
        if not path.exists():
            return {}
        layout = "{data: [{image_id, ocr_tokens, ...}]}"
        doc = read_json(path, expected=layout)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise DataError(path, "no 'data' list", expected=layout)
        out = {}
        for i, item in enumerate(data):
            if not isinstance(item, dict) or not isinstance(item.get("image_id"), str):
                raise DataError(path, f"data[{i}] has no string image_id", expected=layout)
            out[item["image_id"]] = _tokens(item.get("ocr_tokens"), path, f"data[{i}]")
        return out

    def _parquet_rows(self) -> list[dict[str, Any]]:
        rows = []
        for path in self.parquet_files():
            names = open_parquet(path, PARQUET_COLUMNS, LAYOUT).schema_arrow.names
            columns = (*PARQUET_COLUMNS, *(["ocr_tokens"] if "ocr_tokens" in names else []))
            for row_no, item in parquet_rows(path, columns, LAYOUT):
                where = f"row {row_no}"
                row = _check(item, path, where)
                image = item["image"] or {}
                if not image.get("bytes"):
                    raise DataError(path, f"{where}: image has no bytes", expected=LAYOUT)
                row["image"] = ImageRef(key=row.pop("image_id"), data=image["bytes"])
                tokens = item.get("ocr_tokens")
                row["ocr"] = _tokens(tokens, path, where) if tokens is not None else None
                rows.append(row)
        return rows

    # ---- prompting ---------------------------------------------------------------------
    def prompt(self, sample: Sample) -> str:
        tokens = sample.meta["ocr_tokens"]
        if self.config.ocr and tokens:
            return self.ocr_template.format(image=IMAGE_TOKEN, question=sample.question, ocr=", ".join(tokens))
        return self.prompt_template.format(image=IMAGE_TOKEN, question=sample.question)

    def prompt_fingerprint(self) -> str:
        extra = self.ocr_template if self.config.ocr else ""
        return hashlib.sha256(f"{super().prompt_fingerprint()}|{extra}".encode()).hexdigest()[:16]

    # ---- scoring -------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        return {"score": vqa_accuracy(prediction, sample.target)}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return {"n": 1.0, "acc": float(record["score"])}

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return vqa_metrics(totals)


def _check(item: Any, path: Path, where: str) -> dict[str, Any]:
    """question_id, question, image_id and answers of one entry, type-checked."""
    if not isinstance(item, dict):
        raise DataError(path, f"{where} is not an object", expected=LAYOUT)
    qid, question, image_id, answers = (item.get(k) for k in ("question_id", "question", "image_id", "answers"))
    if not isinstance(qid, (int, str)) or isinstance(qid, bool):
        raise DataError(path, f"{where} has no question_id", expected=LAYOUT)
    if not isinstance(question, str) or not isinstance(image_id, str) or not image_id:
        raise DataError(path, f"{where} lacks the strings 'question' and 'image_id'", expected=LAYOUT)
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise DataError(path, f"{where}: 'answers' must be a non-empty list of strings", expected=LAYOUT)
    return {"id": str(qid), "question": question, "image_id": image_id, "answers": list(answers),
            "path": path, "where": where}


def _tokens(value: Any, path: Path, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DataError(path, f"{where}: 'ocr_tokens' must be a list of strings")
    return list(value)
