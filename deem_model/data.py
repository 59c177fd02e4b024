"""Training corpora in the world's ``train/`` layout, turned into model batches per stage.

Layout (paths relative to ``<data>/train/``): ``images/*.png``; ``captions.jsonl``
{"image","caption"} (category-only alt-text); ``interleaved.jsonl`` {"image","text"};
``instruct.jsonl`` {"image","question","answer"}; ``region.jsonl`` {"image","bbox":[x,y,w,h],
"polygon":[...],"question" (or "instruction"),"answer"}; ``t2i.jsonl`` {"image","caption"}.

Batches are a pure function of (seed, step): the sample order is a seeded permutation per epoch
and every random formatting choice is drawn from a per-sample seeded generator, so a resumed
run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deem_eval.errors import DataError
from deem_eval.samples import IMAGE_TOKEN, Region

from .prompting import POPE_PREFIX, POPE_TEMPLATE, encode_with_images, right_pad, text_ids

REQUIRED = {
    "captions.jsonl": ("image", "caption"),
    "t2i.jsonl": ("image", "caption"),
    "interleaved.jsonl": ("image", "text"),
    "instruct.jsonl": ("image", "question", "answer"),
    "region.jsonl": ("image", "bbox", "answer"),  # plus "question" (or "instruction")
}
TEXT_SOURCES = ("interleaved.jsonl", "captions.jsonl", "t2i.jsonl")
# each stage's default corpus; a stage config's ``data`` may name another file of the same format
STAGE_CORPUS = {"clip": "captions.jsonl", "dm": "t2i.jsonl", "1": "interleaved.jsonl", "2": "instruct.jsonl",
                "3": "region.jsonl"}
VQA_SUFFIX = "\nAnswer the question using a single word or phrase."
OPTIONS_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
OPTIONS = re.compile(r"^(?P<q>.*?)\s*(?P<opts>\(a\).*)$", re.S)


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Records of a JSON Lines corpus; a malformed line raises DataError naming file and line."""
    if not path.is_file():
        raise DataError(path, "training corpus not found", expected="a JSON Lines file in the world's train/ layout")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"invalid JSON ({exc.msg})", line=no) from exc
            missing = [k for k in required if k not in row] if isinstance(row, dict) else list(required)
            if missing:
                raise DataError(path, f"missing keys {missing}", line=no, expected=f"an object with {list(required)}")
            rows.append(row)
    if not rows:
        raise DataError(path, "no records", expected="at least one JSON object per line")
    return rows


def corpus_texts(train_dir: Path) -> list[str]:
    """Every piece of text in the corpora (for building the tokenizer vocabulary)."""
    out: list[str] = []
    for name, keys in REQUIRED.items():
        path = train_dir / name
        if not path.is_file():
            continue
        for row in read_jsonl(path, keys):
            out.extend(v for k, v in row.items() if k != "image" and isinstance(v, str))
    return out


class EpochSampler:
    """Indices of micro-batch k: position k*B.. of a seeded permutation per epoch (no state)."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._perm: tuple[int, list[int]] | None = None

    def indices(self, micro_step: int) -> list[int]:
        out = []
        for k in range(micro_step * self.batch_size, (micro_step + 1) * self.batch_size):
            epoch, pos = divmod(k, self.n)
            if self._perm is None or self._perm[0] != epoch:
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
                self._perm = (epoch, torch.randperm(self.n, generator=g).tolist())
            out.append(self._perm[1][pos])
        return out


class ImageStore:
    """Decoded images as uint8 arrays, loaded once; a bad file raises DataError (never swapped)."""

    def __init__(self, root: Path, size: int):
        self.root, self.size = root, size
        self._cache: dict[str, np.ndarray] = {}
        self.original_size: dict[str, tuple[int, int]] = {}

    def get(self, rel: str) -> np.ndarray:
        if rel not in self._cache:
            from PIL import Image

            path = (self.root / rel).resolve()
            if self.root.resolve() not in path.parents:
                raise DataError(path, "image path escapes the data root", expected=f"a path under {self.root}")
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    self.original_size[rel] = (im.height, im.width)
                    if im.size != (self.size, self.size):
                        im = im.resize((self.size, self.size), Image.BICUBIC)
                    self._cache[rel] = np.asarray(im, dtype=np.uint8).copy()
            except FileNotFoundError as exc:
                raise DataError(path, "image not found") from exc
            except OSError as exc:
                raise DataError(path, f"cannot decode image ({exc})") from exc
        return self._cache[rel]

    def batch(self, rels: list[str]) -> torch.Tensor:
        arr = np.stack([self.get(r) for r in rels])
        return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(255.0)


class StageData:
    """Deterministic batches for one training stage."""

    def __init__(self, stage: str, data_dir: str | Path, model: Any, batch_size: int, seed: int,
                 image_first_prob: float = 0.5, curriculum_steps: int = 0, curriculum_match: str = "",
                 corpus: str | None = None):
        self.stage, self.model, self.batch_size, self.seed = stage, model, batch_size, seed
        self.corpus = corpus or STAGE_CORPUS.get(stage)
        self.image_first_prob = image_first_prob
        self.curriculum_steps = curriculum_steps
        self.micro_per_step = 1  # micro-batches per optimiser step (accumulation x processes), set by the loop
        self.train_dir = Path(data_dir) / "train"
        if not self.train_dir.is_dir():
            raise DataError(self.train_dir, "training folder not found",
                            expected="<data>/train/ with images/ and the *.jsonl corpora")
        self.tok = model.tokenizer
        self.ids = model.ids
        self.n_img = model.cfg.num_image_tokens
        self.images = ImageStore(self.train_dir, model.cfg.encoder.image_size)
        self.rows = self._load_rows()
        self.sampler = EpochSampler(len(self.rows), batch_size, seed)
        self.first_rows: list[dict[str, Any]] = []
        if curriculum_steps > 0:
            self.first_rows = self._curriculum_rows(curriculum_match)
            self.first_sampler = EpochSampler(len(self.first_rows), batch_size, seed + 1)

    def _load_rows(self) -> list[dict[str, Any]]:
        if self.stage == "lm":
            rows = []
            for name in TEXT_SOURCES:
                path = self.train_dir / name
                if path.is_file():
                    key = "text" if name == "interleaved.jsonl" else "caption"
                    rows.extend({"text": r[key]} for r in read_jsonl(path, REQUIRED[name]))
            if not rows:
                raise DataError(self.train_dir, "no text corpora found", expected=f"one of {list(TEXT_SOURCES)}")
            return rows + self._reading_rows()
        name = str(self.corpus)
        rows = read_jsonl(self.train_dir / name, REQUIRED[STAGE_CORPUS[self.stage]])
        if self.stage == "2":
            return conversations(rows)
        if self.stage == "3":
            for no, r in enumerate(rows, 1):
                if "question" not in r and "instruction" not in r:
                    raise DataError(self.train_dir / name, "missing key 'question' (or 'instruction')", line=no)
        return rows

    def _curriculum_rows(self, pattern: str) -> list[dict[str, Any]]:
        """Single-question conversations whose question matches ``pattern`` (instruction stage only)."""
        if self.stage != "2":
            raise DataError(self.train_dir, f"curriculum_steps is set for stage {self.stage}",
                            expected="a curriculum only in the instruction stage (2)")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise DataError(self.train_dir, f"curriculum_match {pattern!r} is not a regular expression ({exc})") from exc
        rows = [{"image": c["image"], "turns": [t]} for c in self.rows for t in c["turns"]
                if regex.search(str(t["question"]))]
        if not rows:
            raise DataError(self.train_dir / "instruct.jsonl", f"no question matches curriculum_match {pattern!r}")
        return rows

    def _reading_rows(self) -> list[dict[str, Any]]:
        """Instruction conversations answered from the image's description text instead of the image.

        A pretrained LLM arrives able to answer questions about a text it has read; the tiny LLM
        learns it here, so instruction tuning only has to teach it to read image tokens the same way.
        """
        described, instruct = self.train_dir / "interleaved.jsonl", self.train_dir / "instruct.jsonl"
        if not (described.is_file() and instruct.is_file()):
            return []
        text = {r["image"]: r["text"] for r in read_jsonl(described, REQUIRED["interleaved.jsonl"])}
        return [dict(c, description=text[c["image"]]) for c in conversations(read_jsonl(instruct, REQUIRED["instruct.jsonl"]))
                if c["image"] in text]

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, micro_step: int) -> dict[str, torch.Tensor]:
        first = self.curriculum_steps * self.micro_per_step
        if micro_step < first:
            rows = [self.first_rows[i] for i in self.first_sampler.indices(micro_step)]
        else:
            rows = [self.rows[i] for i in self.sampler.indices(micro_step - first)]
        rngs = [random.Random(self.seed * 7_919 + micro_step * 131 + j) for j in range(len(rows))]
        return getattr(self, f"_batch_{self.stage}")(rows, rngs)

    # --------------------------------------------------------------------------- per stage
    def _batch_clip(self, rows, rngs) -> dict[str, torch.Tensor]:
        ctx = self.model.clip_text.text.context_length if self.model.clip_text is not None else 24
        ids = torch.zeros((len(rows), ctx), dtype=torch.long)
        for i, r in enumerate(rows):
            t = text_ids(self.tok, r["caption"])[: ctx - 1] + [self.model.clip_eot_id]
            ids[i, : len(t)] = torch.tensor(t)
        return {"pixel_values": self.images.batch([r["image"] for r in rows]), "clip_ids": ids}

    def _batch_dm(self, rows, rngs) -> dict[str, torch.Tensor]:
        n = self.model.cfg.diffusion.num_cond_tokens
        ids = torch.full((len(rows), n), self.ids["pad"], dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.bool)
        for i, r in enumerate(rows):
            t = ([self.ids["bos"]] + text_ids(self.tok, r["caption"]))[:n]
            ids[i, : len(t)] = torch.tensor(t)
            mask[i, : len(t)] = True
        return {"pixel_values": self.images.batch([r["image"] for r in rows]), "cond_ids": ids, "cond_mask": mask}

    def _finish(self, seqs: list[list[int]], labels: list[list[int]]) -> dict[str, torch.Tensor]:
        limit = self.model.cfg.tokenizer.max_length
        seqs = [s[:limit] for s in seqs]
        labels = [lab[:limit] for lab in labels]
        return right_pad(seqs, self.ids["pad"], labels)

    def _batch_lm(self, rows, rngs) -> dict[str, torch.Tensor]:
        seqs, labels = [], []
        for r, rng in zip(rows, rngs, strict=True):
            if "description" in r:  # reading comprehension: the description stands where the image goes
                s, lab = self._conversation(r["turns"], rng, r["description"].strip() + " ")
            else:
                s = [self.ids["bos"]] + text_ids(self.tok, r["text"]) + [self.ids["eos"]]
                lab = [-100] + s[1:]
            seqs.append(s)
            labels.append(lab)
        return self._finish(seqs, labels)

    def _pieces(self, context: str, answer: str) -> tuple[list[int], list[int]]:
        ctx = [self.ids["bos"]] + encode_with_images(self.tok, context, self.ids, self.n_img)
        ans = text_ids(self.tok, answer) + [self.ids["eos"]]
        return ctx + ans, [-100] * len(ctx) + ans

    def _batch_1(self, rows, rngs) -> dict[str, torch.Tensor]:
        seqs, labels = [], []
        for r, rng in zip(rows, rngs, strict=True):
            text = text_ids(self.tok, r["text"])
            img = [self.ids["soi"]] + [self.ids["image"]] * self.n_img
            if rng.random() < self.image_first_prob:  # understanding: text conditioned on the image
                s = [self.ids["bos"]] + img + text + [self.ids["eos"]]
                lab = [-100] * (1 + len(img)) + text + [self.ids["eos"]]
            else:  # generation: the text predicts SoI, the image is synthesised from the context (NIP)
                s = [self.ids["bos"]] + text + img + [self.ids["eos"]]
                lab = [-100] + text + [self.ids["soi"]] + [-100] * (self.n_img + 1)
            seqs.append(s)
            labels.append(lab)
        out = self._finish(seqs, labels)
        out["pixel_values"] = self.images.batch([r["image"] for r in rows])
        return out

    @staticmethod
    def _instruction(r: dict[str, Any], rng: random.Random) -> tuple[str, str]:
        """(context with ``<image>``, answer) in one of the prompt layouts the evaluation tasks use."""
        q, a = str(r["question"]).strip(), str(r["answer"]).strip()
        m = OPTIONS.match(q) if a.startswith("(") else None
        if m is not None and rng.random() < 0.7:  # two-option questions in the MMVP layout
            return IMAGE_TOKEN + m["q"] + "\n" + m["opts"] + OPTIONS_SUFFIX, a
        if a.lower() in ("yes", "no") and rng.random() < 0.5:
            return POPE_TEMPLATE.format(image=IMAGE_TOKEN, question=q) + " " + POPE_PREFIX, a
        if rng.random() < 0.5:
            return IMAGE_TOKEN + q + VQA_SUFFIX, a
        return IMAGE_TOKEN + q, a

    def _conversation(self, turns: list[dict[str, Any]], rng: random.Random, image: str = IMAGE_TOKEN
                      ) -> tuple[list[int], list[int]]:
        """One image, several question/answer turns in a seeded order; turns that would not fit in
        ``max_length`` are left out of this sequence (never cut mid-answer)."""
        order = list(turns)
        rng.shuffle(order)
        limit = self.model.cfg.tokenizer.max_length
        seq, lab = [self.ids["bos"]], [-100]
        for k, turn in enumerate(order):
            context, answer = self._instruction(turn, rng)
            ctx = encode_with_images(self.tok, context.replace(IMAGE_TOKEN, image if k == 0 else ""), self.ids,
                                     self.n_img)
            ans = text_ids(self.tok, answer) + [self.ids["eos"]]
            if k and len(seq) + len(ctx) + len(ans) > limit:
                break
            seq += ctx + ans
            lab += [-100] * len(ctx) + ans
        return seq, lab

    def _batch_2(self, rows, rngs) -> dict[str, torch.Tensor]:
        seqs, labels = [], []
        for r, rng in zip(rows, rngs, strict=True):
            s, lab = self._conversation(r["turns"], rng)
            seqs.append(s)
            labels.append(lab)
        out = self._finish(seqs, labels)
        out["pixel_values"] = self.images.batch([r["image"] for r in rows])
        return out

    def _batch_3(self, rows, rngs) -> dict[str, torch.Tensor]:
        seqs, labels, masks = [], [], []
        size = self.model.cfg.encoder.image_size
        for r in rows:
            question = r.get("question", r.get("instruction"))
            s, lab = self._pieces(IMAGE_TOKEN + str(question).strip(), str(r["answer"]).strip())
            seqs.append(s)
            labels.append(lab)
            self.images.get(r["image"])
            masks.append(region_mask(r, self.images.original_size[r["image"]], size))
        out = self._finish(seqs, labels)
        out["pixel_values"] = self.images.batch([r["image"] for r in rows])
        out["masks"] = torch.stack(masks)
        return out


def conversations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Instruction records grouped per image (first-seen order): one multi-turn conversation each,
    so one forward pass trains every question about the image."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(r["image"], []).append(r)
    return [{"image": image, "turns": turns} for image, turns in grouped.items()]


def region_mask(row: dict[str, Any], hw: tuple[int, int], size: int) -> torch.Tensor:
    """(1, size, size) float mask from a record's polygon (or its box when there is none)."""
    poly = row.get("polygon") or []
    polygons = [poly] if poly and not isinstance(poly[0], list) else list(poly)
    m = Region(bbox=tuple(row["bbox"]), polygons=polygons).mask(hw[1], hw[0])
    t = torch.from_numpy(m.astype(np.float32))[None]
    if t.shape[-1] != size:
        t = torch.nn.functional.interpolate(t[None], size=(size, size), mode="nearest")[0]
    return t
