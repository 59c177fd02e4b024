"""The response cache opened by several processes at once (the ranks of one launch)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from deem_eval.cache import ResponseCache


def _open_and_write(path: str, start, rank: int, failures) -> None:
    start.wait()
    try:
        cache = ResponseCache(Path(path))
        cache.put_many({f"k{rank}": {"prediction": str(rank)}})
        cache.close()
    except Exception as err:  # reported to the parent, which fails the test
        failures.put(f"{type(err).__name__}: {err}")


def test_ranks_creating_one_new_cache_together_all_open_it(tmp_path):
    ctx = mp.get_context("fork")  # fork starts them close enough together to collide
    for trial in range(40):  # the race is on the first opening of a new file; try it several times
        path = tmp_path / f"c{trial}" / "responses.sqlite"
        start, failures = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_open_and_write, args=(str(path), start, r, failures)) for r in range(3)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(timeout=120)
        errors = [failures.get() for _ in range(failures.qsize())]
        assert errors == [] and all(p.exitcode == 0 for p in procs)
        cache = ResponseCache(path)
        assert cache.get_many(["k0", "k1", "k2"]) == {f"k{r}": {"prediction": str(r)} for r in range(3)}
        cache.close()
