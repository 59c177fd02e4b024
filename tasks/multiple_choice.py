"""What the lettered multiple-choice tasks (MMBench, MMStar, SEED-Bench) share.

A sample carries its options in ``meta["choices"]`` ({"A": text, ...}) and its groups (category,
dimension...) in ``meta``; the target is the answer letter. Responses are read with
``deem_eval.metrics.choice.extract_choice``; an unreadable response is wrong. ``--scoring logits``
ranks the option letters (one forward pass per question). Metrics: ``accuracy`` overall and
``<kind>/<group>`` per group, in percent.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from deem_eval.errors import DataError
from deem_eval.metrics.choice import extract_choice, group_accuracy, group_stats, option_lines
from deem_eval.samples import IMAGE_TOKEN, Sample
from deem_eval.task import Task

LETTER_INSTRUCTION = "Answer with the option's letter from the given choices directly."


def checked_answer(answer: Any, choices: Mapping[str, str], path: Path, where: str, line: int | None = None) -> str:
    """The answer letter, upper-cased, and one of the options; else a located DataError."""
    letter = str(answer or "").strip().upper()
    if letter not in choices:
        raise DataError(path, f"{where}answer {answer!r} is not one of the options {', '.join(choices) or '(none)'}",
                        line=line, expected="an option letter such as A")
    return letter


def checked_choices(choices: dict[str, str], path: Path, where: str, line: int | None = None) -> dict[str, str]:
    """At least two options, lettered A, B, ... without gaps."""
    letters = "".join(choices)
    if len(choices) < 2 or letters != "ABCDEFGHIJ"[: len(choices)]:
        raise DataError(path, f"{where}options {letters or '(none)'} are not A, B, ... without gaps",
                        line=line, expected="at least options A and B")
    return choices


class LetterChoiceTask(Task):
    """Questions whose answer is one option letter."""

    output_type = "options"
    prompt_template = "{image}{question}\n{options}\n" + LETTER_INSTRUCTION
    max_new_tokens = 16
    group_kinds: ClassVar[tuple[str, ...]] = ("category",)

    def prompt(self, sample: Sample) -> str:
        return self.prompt_template.format(
            image=IMAGE_TOKEN, question=sample.question, options=option_lines(sample.meta["choices"])
        )

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        parsed = extract_choice(prediction, sample.meta["choices"])
        out: dict[str, Any] = {"score": float(parsed == sample.target), "parsed": parsed}
        for kind in self.group_kinds:
            out[kind] = sample.meta.get(kind)
        return out

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return group_stats(record["score"], {k: record.get(k) for k in self.group_kinds})

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return group_accuracy(totals)


class TableTask(Task):
    """Data as one VLMEvalKit TSV (base64 images) or Hugging Face parquet files (image structs).

    The TSV is used when present; otherwise the parquet files matching ``parquet_globs``.
    """

    tsv_names: ClassVar[tuple[str, ...]] = ()
    parquet_globs: ClassVar[tuple[str, ...]] = ("*.parquet", "data/*.parquet")
    layout: ClassVar[str] = ""

    def tsv_path(self) -> Path | None:
        return next((self.data_dir / n for n in self.tsv_names if (self.data_dir / n).is_file()), None)

    def parquets(self) -> list[Path]:
        from deem_eval.io_tables import parquet_files

        return parquet_files(self.data_dir, self.parquet_globs)

    def source_files(self) -> list[Path]:
        tsv = self.tsv_path()
        return [tsv] if tsv is not None else self.parquets()

    def missing(self) -> list[str]:
        return [] if self.source_files() else super().missing()

    def data_fingerprint(self) -> str:
        from deem_eval.io import files_fingerprint

        files = self.source_files()
        return files_fingerprint(self.data_dir, files, self.name) if files else super().data_fingerprint()

    def table_rows(self, columns: tuple[str, ...], optional: tuple[str, ...] = ()):
        """Yield (file, row number, 'row N: ', row) from the TSV or the parquet files; DataError when neither exists.

        Empty cells (pandas' NA spellings such as "nan", which some parquet copies hold) are None."""
        from deem_eval.io_tables import iter_parquet, read_tsv
        from deem_eval.metrics.choice import is_missing

        tsv = self.tsv_path()
        if tsv is not None:
            for i, row in enumerate(read_tsv(tsv, columns, self.layout), 1):
                yield tsv, i, f"row {i}: ", row
            return
        files = self.parquets()
        if not files:
            raise DataError(self.data_dir, "no data found", expected=self.layout)
        for path, i, row in iter_parquet(files, columns, self.layout, optional):
            yield path, i, f"row {i}: ", {k: (None if is_missing(v) else v) for k, v in row.items()}

    def row_image(self, cell: Any, key: str, path: Path, row: int):
        """A TSV cell holds base64 text, a parquet cell an image struct (or a list of them)."""
        from deem_eval.io_tables import cell_image

        if cell is None:
            raise DataError(path, f"row {row}: no image", expected=self.layout)
        return cell_image(cell, key, path, row, self.data_dir)
