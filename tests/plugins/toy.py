"""A toy task and a toy model used to test the engine in isolation from real benchmarks.

toy_yesno reads ``toy/questions.jsonl`` ({"id", "image", "question", "label"}) under a data root.
toy-model answers "yes" when the image's mean red value exceeds its green value; it counts
how often it encodes images and can sleep per batch (to be killed mid-run in tests).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from deem_eval.bootstrap import safe_div
from deem_eval.io import iter_jsonl
from deem_eval.models.base import ModelAdapter
from deem_eval.registry import register_model, register_task
from deem_eval.samples import ImageRef, Request, Sample
from deem_eval.task import Task, TaskConfig

ENCODE_LOG: list[str] = []


@dataclasses.dataclass
class ToyConfig(TaskConfig):
    negate: bool = False  # score the opposite answer as right (a scoring option for --task-args tests)


@register_task("toy_yesno", group="toy")
class ToyYesNo(Task):
    Config = ToyConfig
    folder = "toy"
    expected = ("questions.jsonl",)
    metrics = ("accuracy",)
    output_type = "yesno"
    prompt_template = "{image}{question} Answer yes or no."
    answer_prefix = "The answer is"

    def samples(self) -> Iterator[Sample]:
        path = self.data_dir / "questions.jsonl"
        for _, obj in iter_jsonl(path):
            img = self.data_dir / obj["image"]
            yield Sample(
                id=str(obj["id"]), target=obj["label"], image=ImageRef(key=obj["image"], path=img),
                question=obj["question"], options=["yes", "no"],
            )

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        answer = "no" if re.search(r"\bno\b", prediction.lower()) else "yes"
        return {"score": float((answer == sample.target) != self.config.negate)}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return {"correct": record["score"], "count": 1.0}

    def compute(self, totals):
        return {"accuracy": 100.0 * safe_div(totals["correct"], totals["count"])}


@register_model("toy-model")
class ToyModel(ModelAdapter):
    """Answers from the image's colour; for engine tests."""

    def __init__(self, **model_args: str):
        super().__init__(**model_args)
        self.delay = float(model_args.get("delay", 0))
        self.calls_file = model_args.get("calls_file")

    def fingerprint(self) -> str:
        return "toy-" + self.model_args.get("version", "1")

    def encode_images(self, images: Sequence[Any], masks=None) -> list[Any]:
        import numpy as np

        out = []
        for im in images:
            arr = np.asarray(im, dtype=np.float32)
            ENCODE_LOG.append(f"{arr.shape}")
            out.append(arr.reshape(-1, 3).mean(0))
        return out

    def _answer(self, req: Request) -> bool:
        feats = req.image
        return bool(feats[0] > feats[1])

    def _log(self, reqs: Sequence[Request]) -> None:
        if self.calls_file:
            with Path(self.calls_file).open("a") as fh:
                for r in reqs:
                    fh.write(f"{os.getpid()} {r.sample_id}\n")
        if self.delay:
            time.sleep(self.delay)

    def generate(self, requests: Sequence[Request]) -> list[str]:
        self._log(requests)
        return ["Yes, it is." if self._answer(r) else "No, it is not." for r in requests]

    def score_options(self, requests: Sequence[Request]) -> list[list[float]]:
        self._log(requests)
        return [[0.0, -1.0] if self._answer(r) else [-1.0, 0.0] for r in requests]


def write_toy_data(root: Path, n_images: int = 6, questions_per_image: int = 3, corrupt: int | None = None) -> Path:
    """Write a toy data root: red-ish images answer yes, green-ish answer no."""
    from PIL import Image

    d = root / "toy"
    (d / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    qid = 0
    for i in range(n_images):
        red = i % 2 == 0
        name = f"images/img_{i}.png"
        if corrupt is not None and i == corrupt:
            (d / name).write_bytes(b"not a png")
        else:
            Image.new("RGB", (8, 8), (200, 30 + i, 30) if red else (30, 200, 30 + i)).save(d / name)
        for q in range(questions_per_image):
            qid += 1
            label = "yes" if red else "no"
            if q == 2:  # a question the toy model gets wrong
                label = "no" if red else "yes"
            lines.append({"id": qid, "image": name, "question": f"Is this red? ({q})", "label": label})
    import json

    (d / "questions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root
