"""MME: yes/no questions in 14 subtasks, two per image, scored as acc + acc+ per subtask.

Data under ``<root>/mme/``, either layout:

- the released folder ``MME_Benchmark_release_version/`` (an inner ``MME_Benchmark/`` level is
  allowed) with one folder per subtask. Five subtasks (artwork, celebrity, landmark, posters,
  scene) keep the images in ``<subtask>/images/`` and one text file per image in
  ``<subtask>/questions_answers_YN/<image stem>.txt``; the others keep images and text files side
  by side in ``<subtask>/``. Each text file holds one question per line, ``question<TAB>Yes|No``
  (two per image in the release);
- the lmms-lab/MME parquet files (``mme/*.parquet`` or ``mme/data/*.parquet``; columns
  ``question_id`` = ``<subtask>/<image file>``, ``image`` = {bytes, path}, ``question``,
  ``answer``, ``category`` = the subtask). Used when the released folder is absent.

Sample id: ``<subtask>/<image file>#<k>`` (k = 1, 2: the question's line in its file). Image
key: ``<subtask>/<image file>``, so each image is encoded once for its two questions.

Prompt: the paper's yes/no evaluation prompt (as POPE); MME's own question suffix " Please answer
yes or no." is removed first because the prompt says it already (lmms-eval does the same when it
adds a prompt).

Scoring (``eval_tool/calculation.py``): responses are read with
:func:`deem_eval.metrics.yesno_rules.mme_answer`; per subtask ``acc`` = right answers / questions
("other" is wrong) and ``acc+`` = images with all (both) questions right / images; the subtask's
score is 100·(acc + acc+), 0-200. ``perception`` sums the scores of the perception subtasks present
(existence, count, position, color, posters, celebrity, scene, landmark, artwork, OCR; 2000 at
most) and ``cognition`` those of commonsense_reasoning, numerical_calculation, text_translation,
code_reasoning (800 at most); ``total`` = both. Each subtask also reports ``<subtask>_acc`` and
``<subtask>_acc_plus`` in percent. An image with an errored question is left out of acc+.
Confidence intervals resample whole images.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from deem_eval.bootstrap import safe_div
from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import files_fingerprint, require
from deem_eval.metrics.yesno_rules import NO, YES, mme_answer
from deem_eval.parquet import find_parquet, parquet_column, parquet_rows
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample

from .pope import YesNoTask, yes_no_label

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
              "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")
SUBTASKS = PERCEPTION + COGNITION
RELEASE = "MME_Benchmark_release_version"
QA_FOLDER = "questions_answers_YN"
IMAGE_EXTENSIONS = (".jpg", ".png", ".jpeg")
SUFFIX = " Please answer yes or no."
PARQUET_COLUMNS = ("question_id", "image", "question", "answer", "category")
LAYOUT = (
    f"mme/{RELEASE}/<subtask>/ with <image>.txt files of 'question<TAB>Yes|No' lines beside the images "
    f"(or in <subtask>/{QA_FOLDER}/ with the images in <subtask>/images/), "
    "or the lmms-lab/MME parquet files in mme/ or mme/data/"
)


def _strip_suffix(question: str) -> str:
    q = question.strip()
    return q[: -len(SUFFIX)].rstrip() if q.endswith(SUFFIX) else q


@register_task("mme")
class MME(YesNoTask):
    """MME perception and cognition, scored with the official acc + acc+ rule."""

    name = "mme"
    folder = "mme"
    expected = (RELEASE,)
    source = (
        "BradyFU/Awesome-Multimodal-Large-Language-Models (MME_Benchmark_release_version, on request), "
        "or the lmms-lab/MME parquet files from the Hugging Face Hub"
    )
    metrics = ("perception", "cognition", "total", "<subtask>", "<subtask>_acc", "<subtask>_acc_plus")
    headline = "perception"

    # ---- data ------------------------------------------------------------------------
    @property
    def release_dir(self) -> Path:
        base = self.data_dir / RELEASE
        inner = base / "MME_Benchmark"
        return inner if inner.is_dir() else base

    def parquet_files(self) -> list[Path]:
        return find_parquet(self.data_dir)

    def uses_parquet(self) -> bool:
        return not (self.data_dir / RELEASE).exists() and bool(self.parquet_files())

    def missing(self) -> list[str]:
        return [] if self.uses_parquet() else super().missing()

    def _text_files(self) -> list[tuple[str, Path, Path]]:
        """(subtask, text file, image folder) for every question file, subtasks in official order."""
        out = []
        for sub in SUBTASKS:
            folder = self.release_dir / sub
            if (folder / QA_FOLDER).is_dir() and (folder / "images").is_dir():
                qa, images = folder / QA_FOLDER, folder / "images"
            elif folder.is_dir():
                qa, images = folder, folder
            else:
                continue
            out.extend((sub, p, images) for p in sorted(qa.glob("*.txt")))
        return out

    def data_fingerprint(self) -> str:
        files = self.parquet_files() if self.uses_parquet() else [p for _, p, _ in self._text_files()]
        return files_fingerprint(self.data_dir, files)

    def samples(self) -> Iterator[Sample]:
        if self.uses_parquet():
            yield from self._parquet_samples()
            return
        require(self.data_dir / RELEASE, expected=LAYOUT)
        files = self._text_files()
        if not files:
            raise DataError(self.release_dir, "holds no subtask folder with question files "
                            f"(subtasks: {', '.join(SUBTASKS)})", expected=LAYOUT)
        for sub, path, images in files:
            name = self._image_name(images, path.stem)
            key = f"{sub}/{name}"
            image = ImageRef(key=key, path=inside(images, name, "image", path))
            lines = _qa_lines(path)
            for k, (line, question, answer) in enumerate(lines, 1):
                target = yes_no_label(answer, path, line, "answer")
                yield self._sample(key, k, len(lines), image, question, target, sub)

    @staticmethod
    def _image_name(folder: Path, stem: str) -> str:
        """The image beside a question file (any listed extension, any case); .jpg when absent."""
        for ext in IMAGE_EXTENSIONS:
            for cand in (stem + ext, stem + ext.upper()):
                if (folder / cand).is_file():
                    return cand
        return stem + ".jpg"  # a missing image is a per-sample error, not a data error

    def _sample(self, key: str, k: int, n: int, image: ImageRef, question: str, target: str, sub: str) -> Sample:
        return Sample(id=f"{key}#{k}", target=target, image=image, question=_strip_suffix(question),
                      options=[YES, NO], meta={"subtask": sub, "image": key, "n_questions": n})

    def _parquet_samples(self) -> Iterator[Sample]:
        files = self.parquet_files()
        sizes: dict[str, int] = defaultdict(int)  # questions per image, read first (one column only)
        for path in files:
            for qid in parquet_column(path, "question_id", LAYOUT):
                sizes[str(qid)] += 1
        seen: dict[str, int] = {}
        for path in files:
            for row_no, row in parquet_rows(path, PARQUET_COLUMNS, LAYOUT):
                yield self._parquet_row(row, path, row_no, seen, sizes)

    def _parquet_row(self, row: dict[str, Any], path: Path, row_no: int, seen: dict[str, int],
                     sizes: Mapping[str, int]) -> Sample:
        where = f"row {row_no}: "
        sub = str(row["category"])
        if sub not in SUBTASKS:
            raise DataError(path, f"{where}category {sub!r} is not an MME subtask",
                            expected=", ".join(SUBTASKS))
        key = str(row["question_id"])
        seen[key] = seen.get(key, 0) + 1
        image = row["image"] or {}
        if not image.get("bytes"):
            raise DataError(path, f"{where}image has no bytes", expected=LAYOUT)
        ref = ImageRef(key=key, data=image["bytes"])
        target = yes_no_label(row["answer"], path, None, f"{where}answer")
        return self._sample(key, seen[key], sizes[key], ref, str(row["question"]), target, sub)

    # ---- scoring -----------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        parsed = mme_answer(prediction)
        return {"score": float(parsed == sample.target), "parsed": parsed, "subtask": sample.meta["subtask"],
                "image": sample.meta["image"], "n_questions": sample.meta["n_questions"]}

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Credit each complete image once, on its first record, so sums over records stay exact."""
        for members in _images(records).values():
            complete = len(members) == records[members[0]]["n_questions"]
            for k, i in enumerate(members):
                first = complete and k == 0
                records[i]["image_n"] = float(first)
                records[i]["image_correct"] = float(first and all(records[m]["score"] == 1.0 for m in members))

    def bootstrap_units(self, records: Sequence[dict[str, Any]]) -> list[list[int]]:
        return list(_images(records).values())

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        sub = record["subtask"]
        return {f"n:{sub}": 1.0, f"correct:{sub}": float(record["score"]),
                f"images:{sub}": record.get("image_n", 0.0), f"images_correct:{sub}": record.get("image_correct", 0.0)}

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        present = [s for s in SUBTASKS if f"n:{s}" in totals]
        for sub in present:
            acc = safe_div(totals[f"correct:{sub}"], totals[f"n:{sub}"])
            acc_plus = safe_div(totals.get(f"images_correct:{sub}", 0.0), totals.get(f"images:{sub}", 0.0))
            out[sub] = 100 * (acc + acc_plus)
            out[f"{sub}_acc"] = 100 * acc
            out[f"{sub}_acc_plus"] = 100 * acc_plus
        for kind, subs in (("perception", PERCEPTION), ("cognition", COGNITION)):
            if any(s in present for s in subs):
                out[kind] = sum(out[s] for s in subs if s in present)
        out["total"] = sum(out[s] for s in present)
        return out


def _qa_lines(path: Path) -> list[tuple[int, str, str]]:
    """(line, question, answer) of a question file; blank lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(path, "not UTF-8 text") from exc
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        parts = raw.split("\t")
        if len(parts) != 2 or not parts[0].strip():
            raise DataError(path, "not a 'question<TAB>answer' line", line=lineno,
                            expected="question<TAB>Yes or question<TAB>No")
        out.append((lineno, parts[0].strip(), parts[1].strip()))
    if not out:
        raise DataError(path, "holds no questions", expected="question<TAB>Yes|No lines")
    return out


def _images(records: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[rec["image"]].append(i)
    return dict(groups)

