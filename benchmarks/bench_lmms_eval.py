"""Throughput of lmms-eval's ``llava_hf`` on POPE, next to deem-eval on the same model and data.

Both tools run as whole processes (start-up, model loading, data reading, scoring included) on
the tiny LLaVA of ``tests/models/tiny_llava.py`` and on a local POPE copy written here in the
Hugging Face POPE parquet layout (columns ``id``, ``question_id`` (string), ``question``,
``answer``, ``image_source``, ``image`` = {bytes, path}, ``category``): 200 drawn scenes, six
questions each (one yes and one no per POPE split), 1,200 questions in all.

This script installs nothing. lmms-eval lives in its own virtual environment:

    python3.11 -m venv /tmp/lmms
    /tmp/lmms/bin/pip install lmms-eval==0.7.3 decord torch==2.14.1 torchvision==0.29.1
    .venv/bin/python benchmarks/bench_lmms_eval.py --lmms-python /tmp/lmms/bin/python

lmms-eval's own POPE task asks for up to 128 new tokens; the local task written here asks for
16, as deem-eval's POPE does, so both generate the same number of tokens at most. Its
``llava_hf`` model runs at batch size 1 (it asserts so); deem-eval runs at ``--batch-size``.
``--threads`` gives both the same torch thread count; on a busy machine one thread per process
is much faster for a model this small than threads that wait for each other.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Category, how often it appears (drives "popular" negatives), and a look-alike that often
# co-occurs with it (drives "adversarial" negatives). Words are in the tiny model's vocabulary.
CATEGORIES = {
    "person": (0.30, "dog"),
    "dog": (0.10, "cat"),
    "cat": (0.08, "dog"),
    "car": (0.12, "truck"),
    "truck": (0.06, "bus"),
    "bus": (0.05, "car"),
    "bird": (0.05, "tree"),
    "tree": (0.07, "bird"),
    "horse": (0.03, "cow"),
    "cow": (0.03, "sheep"),
    "sheep": (0.02, "cow"),
    "bottle": (0.04, "cup"),
    "cup": (0.03, "bottle"),
    "chair": (0.01, "table"),
    "table": (0.01, "chair"),
}
SPLITS = ("adversarial", "popular", "random")  # the order of the Hugging Face POPE rows
PARQUET_NAME = "pope/data/test-00000-of-00001.parquet"


def _draw(rng, present: list[str], width: int = 320, height: int = 240) -> bytes:
    """A JPEG with one coloured shape per category (shape and colour fixed by the category)."""
    from PIL import Image, ImageDraw

    bg = tuple(int(v) for v in rng.integers(150, 256, size=3))
    im = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(im)
    names = list(CATEGORIES)
    for cat in present:
        k = names.index(cat)
        colour = ((k * 67) % 200, (k * 131) % 200, (k * 29) % 200)
        w = int(rng.integers(40, 90))
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - w))
        box = [x, y, x + w, y + w]
        [draw.ellipse, draw.rectangle, draw.polygon][k % 3](
            box if k % 3 < 2 else [(x, y + w), (x + w // 2, y), (x + w, y + w)], fill=colour
        )
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def pope_rows(n_images: int = 200, seed: int = 0) -> list[dict]:
    """Six questions per image: per split one present object (yes) and one absent (no)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = list(CATEGORIES)
    freq = np.array([CATEGORIES[c][0] for c in names])
    by_popularity = sorted(names, key=lambda c: -CATEGORIES[c][0])
    per_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for i in range(n_images):
        present = list(rng.choice(names, size=3, replace=False, p=freq / freq.sum()))
        absent = [c for c in names if c not in present]
        data = _draw(rng, present)
        source = f"synthetic_{i:06d}.jpg"
        negatives = {
            "random": absent[int(rng.integers(len(absent)))],
            "popular": next(c for c in by_popularity if c in absent),
            "adversarial": next(
                (CATEGORIES[p][1] for p in present if CATEGORIES[p][1] in absent),
                next(c for c in by_popularity if c in absent),
            ),
        }
        for split in SPLITS:
            yes_obj = present[int(rng.integers(len(present)))]
            for obj, answer in ((yes_obj, "yes"), (negatives[split], "no")):
                per_split[split].append(
                    {
                        "question": f"Is there a {obj} in the image?",
                        "answer": answer,
                        "image_source": source,
                        "image": {"bytes": data, "path": None},
                        "category": split,
                    }
                )
    rows: list[dict] = []
    for split in SPLITS:
        for qid, row in enumerate(per_split[split], start=1):
            rows.append({"id": str(len(rows)), "question_id": str(qid), **row})
    return rows


def write_pope_parquet(data_root: Path, n_images: int = 200, seed: int = 0) -> tuple[Path, int]:
    """Write the rows with the Hugging Face features metadata (``image`` is an Image feature)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pope_rows(n_images, seed)
    string = {"dtype": "string", "_type": "Value"}
    features = {
        "id": string,
        "question_id": string,
        "question": string,
        "answer": string,
        "image_source": string,
        "image": {"_type": "Image"},
        "category": string,
    }
    schema = pa.schema(
        [
            *(pa.field(c, pa.string()) for c in ("id", "question_id", "question", "answer", "image_source")),
            pa.field("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            pa.field("category", pa.string()),
        ],
        metadata={"huggingface": json.dumps({"info": {"features": features}})},
    )
    path = data_root / PARQUET_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path, len(rows)


def write_lmms_task(task_dir: Path, parquet: Path, max_new_tokens: int) -> str:
    """A local lmms-eval task: lmms-eval's POPE prompt and scoring over the local parquet."""
    task_dir.mkdir(parents=True, exist_ok=True)
    (task_dir / "pope_local_utils.py").write_text(
        "from lmms_eval.tasks.pope.utils import *  # noqa: F401,F403\n"
    )
    metrics = "\n".join(
        f"  - metric: pope_{m}\n    aggregation: !function pope_local_utils.pope_aggregate_{m}\n"
        "    higher_is_better: true"
        for m in ("accuracy", "precision", "recall", "f1_score", "yes_ratio")
    )
    (task_dir / "pope_local.yaml").write_text(
        f"""dataset_path: parquet
dataset_kwargs:
  data_files:
    test: {parquet}
task: pope_local
test_split: test
output_type: generate_until
doc_to_visual: !function pope_local_utils.pope_doc_to_visual
doc_to_text: !function pope_local_utils.pope_doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: {max_new_tokens}
  temperature: 0
  top_p: 1.0
  num_beams: 1
  do_sample: false
process_results: !function pope_local_utils.pope_process_results
metric_list:
{metrics}
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    post_prompt: "\\nAnswer the question using a single word or phrase."
metadata:
  - version: 0.0
"""
    )
    return "pope_local"


def timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    """Wall seconds and exit code of a whole process; its output goes to ``log``."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    return time.perf_counter() - t0, rc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lmms-python", default="/tmp/lmms/bin/python", help="python of the lmms-eval venv")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a new temp folder)")
    ap.add_argument("--n-images", type=int, default=200, help="scenes; six questions each")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8, help="deem-eval batch size")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS for both tools (torch's intra-op threads; default: torch's choice)",
    )
    ap.add_argument("--skip-lmms", action="store_true", help="only time deem-eval")
    ap.add_argument("--skip-deem", action="store_true", help="only time lmms-eval")
    args = ap.parse_args()

    from tests.models.tiny_llava import build_tiny_llava

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-lmms-"))
    work.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_llava(work / "tiny-llava")
    data_root = work / "data"
    parquet, n = write_pope_parquet(data_root, args.n_images)
    print(f"work folder {work}; {n} POPE questions in {parquet}")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(work / "hf-datasets"),
        "XDG_CACHE_HOME": str(work / "xdg-cache"),
    }
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)  # read by torch in both tools
        env.pop("DEEM_THREADS", None)
    results: list[tuple[str, str, float, int]] = []
    if not args.skip_lmms:
        task = write_lmms_task(work / "lmms-tasks", parquet, args.max_new_tokens)
        cmd = [
            args.lmms_python, "-m", "lmms_eval", "eval",
            "--model", "llava_hf",
            "--model_args", f"pretrained={model_dir},device=cpu,device_map=cpu,dtype=float32",
            "--tasks", task, "--include_path", str(work / "lmms-tasks"),
            "--batch_size", "1", "--output_path", str(work / "lmms-out"),
        ]  # fmt: skip
        wall, rc = timed(cmd, env, work / "lmms-eval.log")
        results.append(("lmms-eval llava_hf generate bs=1", " ".join(cmd), wall, rc))
    if not args.skip_deem:
        deem = str(Path(sys.executable).with_name("deem-eval"))
        for scoring in ("logits", "generate"):
            cmd = [
                deem, "run", "--model", "hf-vlm", "--model-args", f"pretrained={model_dir}",
                "--tasks", "pope", "--data-root", str(data_root), "--scoring", scoring,
                "--batch-size", str(args.batch_size), "--no-cache", "--quiet",
                "--output-dir", str(work / f"deem-{scoring}"),
            ]  # fmt: skip
            wall, rc = timed(cmd, env, work / f"deem-eval-{scoring}.log")
            results.append((f"deem-eval hf-vlm {scoring} bs={args.batch_size}", " ".join(cmd), wall, rc))
    print(f"{'run':<38} {'exit':>4} {'wall s':>8} {'samples/s':>9}")
    for name, _cmd, wall, rc in results:
        print(f"{name:<38} {rc:>4} {wall:>8.1f} {n / wall:>9.1f}")
    for name, cmd, _wall, rc in results:
        print(f"\n{name}{'' if rc == 0 else '  (FAILED: see the log in the work folder)'}:\n  {cmd}")


if __name__ == "__main__":
    main()
