"""Prefix sharing: whole-process throughput with ``prefix_cache=on`` and ``off``.

The workload is LLaVA-1.5-shaped where it matters for prefill: a tiny LLaVA built from configs
(``tests/models/tiny_llava.py``) with a 336 px CLIP tower and 14 px patches, so every image is
576 image tokens in front of a short question, and a POPE layout of 200 images with six
questions each (three present objects, three absent: 1,200 questions in
``coco_pope_random.json``), as the released POPE files ask. Each configuration is one
``deem-eval run`` process, timed from start to exit, response cache off; the table gives
samples/s, the speed-up of sharing (whole process, and the task loop alone from results.json's
timing), and ``n_prefill_tokens / n_prefill_floor``.

    python benchmarks/bench_prefix.py [--threads 1] [--n-images 200] [--batch-sizes 1,8] [--llm-width 64]
                                      [--scorings logits,generate,generate-word] [--repeats 1]

With ``--repeats N`` every process runs N times, off and on in turn, and the fastest of each is
reported (this machine's noise only ever adds time; single runs of one line vary by up to 10%).

A random model never ends its answer, so ``generate`` writes the whole 16-token budget for every
question, and that decoding is not shared. ``generate-word`` runs the same model wired to answer
the way a trained one answers a POPE question, one word and then end of sequence
(``tests.models.tiny_llava.answer_in_one_word``): decoding is then one step per question.

With the tests' tiny Llama (2 layers x 64) the vision tower and the processor cost as much as the
LLM; ``--llm-width 384 --llm-layers 4`` makes prefill the main cost, as it is for LLaVA-1.5-7B.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lmms_eval import CATEGORIES, _draw  # noqa: E402


def write_pope(root: Path, n_images: int, seed: int = 0) -> int:
    """``pope/coco_pope_random.json`` (JSON Lines) + images: 3 yes and 3 no questions per image."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = list(CATEGORIES)
    images = root / "pope" / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_images):
        present = list(rng.choice(names, size=3, replace=False))
        absent = [c for c in names if c not in present]
        no = list(rng.choice(absent, size=3, replace=False))
        name = f"COCO_val2014_{i:012d}.jpg"
        (images / name).write_bytes(_draw(rng, present))
        for yes_obj, no_obj in zip(present, no, strict=True):
            for obj, label in ((yes_obj, "yes"), (no_obj, "no")):
                rows.append({"question_id": len(rows) + 1, "image": name,
                             "text": f"Is there a {obj} in the image?", "label": label})
    with open(root / "pope" / "coco_pope_random.json", "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a new temp folder)")
    ap.add_argument("--n-images", type=int, default=200)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--scorings", default="logits,generate,generate-word")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process (DEEM_THREADS)")
    ap.add_argument("--llm-width", type=int, default=64, help="hidden size of the tiny Llama (the tests' model: 64)")
    ap.add_argument("--llm-layers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="runs per process; the fastest is reported")
    args = ap.parse_args()

    from tests.models.tiny_llava import build_tiny_llava

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-prefix-"))
    work.mkdir(parents=True, exist_ok=True)
    shape = {"image_size": 336, "patch_size": 14, "text_hidden": args.llm_width, "text_layers": args.llm_layers}
    models = {False: build_tiny_llava(work / "tiny-llava-336", **shape)}
    if "generate-word" in args.scorings.split(","):
        models[True] = build_tiny_llava(work / "tiny-llava-336-one-word", one_word=True, **shape)
    n = write_pope(work / "data", args.n_images)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DEEM_THREADS": str(args.threads),
           "XDG_CACHE_HOME": str(work / "xdg-cache")}
    deem = str(Path(sys.executable).with_name("deem-eval"))
    print(f"work folder {work}; {n} questions on {args.n_images} images, 576 image tokens each; "
          f"LLM {args.llm_layers} layers x {args.llm_width}")
    table = []
    unknown = set(args.scorings.split(",")) - {"logits", "generate", "generate-word"}
    if unknown:
        sys.exit(f"--scorings: unknown {sorted(unknown)}; expected logits, generate, generate-word")
    for workload in args.scorings.split(","):
        scoring, model_dir = workload.split("-")[0], models[workload.endswith("-word")]
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            best: dict[str, tuple[float, float, float]] = {}  # cache -> (wall, loop, prefill/floor)
            for rep in range(args.repeats):
                for cache in ("off", "on"):
                    out = work / f"runs-{workload}-{bs}-{cache}-{rep}"
                    cmd = [deem, "run", "--model", "hf-vlm", "--model-args",
                           f"pretrained={model_dir},prefix_cache={cache}", "--tasks", "pope_random",
                           "--data-root", str(work / "data"), "--scoring", scoring, "--batch-size", str(bs),
                           "--no-cache", "--quiet", "--output-dir", str(out)]
                    t0 = time.perf_counter()
                    with open(work / f"{out.name}.log", "w") as log:
                        rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
                    wall = time.perf_counter() - t0
                    if rc != 0:
                        sys.exit(f"failed ({rc}): {' '.join(cmd)}; see {work / (out.name + '.log')}")
                    doc = json.loads(next(out.rglob("results.json")).read_text())["tasks"]["pope_random"]
                    seen = best.get(cache, (float("inf"),) * 2)
                    best[cache] = (min(wall, seen[0]), min(doc["timing"]["wall_s"], seen[1]),
                                   doc["n_prefill_tokens"] / doc["n_prefill_floor"])
            walls = {}
            for cache in ("off", "on"):
                walls[cache], loop, ratio = best[cache]
                table.append((workload, bs, cache, walls[cache], loop, n / walls[cache], ratio))
            loops = {r[2]: r[4] for r in table[-2:]}
            table[-1] = (*table[-1], walls["off"] / walls["on"], loops["off"] / loops["on"])
    print(f"{'scoring':<13} {'batch':>5} {'sharing':>7} {'wall s':>8} {'loop s':>7} {'samples/s':>9} "
          f"{'prefill/floor':>13} {'speed-up':>8} {'loop':>6}")
    for row in table:
        scoring, bs, cache, wall, loop, rate, ratio = row[:7]
        up = f"{row[7]:>7.2f}x {row[8]:>5.2f}x" if len(row) > 7 else ""
        print(f"{scoring:<13} {bs:>5} {cache:>7} {wall:>8.1f} {loop:>7.1f} {rate:>9.1f} {ratio:>13.3f} {up}")


if __name__ == "__main__":
    main()
