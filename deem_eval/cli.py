"""The `deem-eval` command line (typer). Heavy libraries are imported inside commands."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Evaluate multimodal models on perception, robustness and hallucination benchmarks.",
    pretty_exceptions_enable=False,
)
build_app = typer.Typer(no_args_is_help=True, help="Build datasets: the synthetic world, RobustVQA.")
app.add_typer(build_app, name="build")


def _err(msg: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {msg}", markup=True)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn UserError into one message and exit code 2 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            from rich.markup import escape

            _err(escape(str(exc)))
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper


# ---------------------------------------------------------------------------------------------
@app.command("tasks")
@user_errors
def tasks_cmd(
    pattern: Annotated[str, typer.Argument(help="fnmatch pattern, e.g. 'pope*'")] = "*",
    data_root: Annotated[Path | None, typer.Option(help="Data root (default: $DEEM_DATA or the built-in world)")] = None,
) -> None:
    """List tasks and groups, their metrics, and whether their data is found."""
    from rich.table import Table

    from . import report
    from .registry import TASKS

    names = TASKS.names(pattern)
    for g, members in TASKS.groups().items():  # a group named by the pattern lists its tasks
        if _match(pattern, g):
            names += [n for n in members if n not in names]
    groups = {g: m for g, m in TASKS.groups().items() if any(n in names for n in m) or _match(pattern, g)}
    if not names and not groups:
        raise UserError(f"no task matches {pattern!r}; known: {', '.join(TASKS.names())}")
    root = _root_for_listing(data_root)
    table = Table(title=f"tasks (data root: {root or 'not set'})", show_lines=True)
    for col in ("task", "group", "metrics", "data", "expects"):
        table.add_column(col, overflow="fold")
    member_of: dict[str, list[str]] = {}
    for g, ms in TASKS.groups().items():
        for n in ms:
            member_of.setdefault(n, []).append(g)
    for name in names:
        cls = TASKS.get(name)
        if root is not None:
            task = cls(root)
            missing = task.missing()
            status = "[green]found[/]" if not missing else "[red]missing: " + ", ".join(missing) + "[/]"
        else:
            status = "[yellow]no data root[/]"
        expects = "\n".join(f"{cls.folder}/{e}" for e in cls.expected)
        if cls.source:
            expects += f"\n[dim]{cls.source}[/]"
        table.add_row(name, ", ".join(member_of.get(name, [])), ", ".join(cls.metrics), status, expects)
    console = report.console(soft_wrap=False)
    console.print(table)
    for g, members in groups.items():
        declared = TASKS.group_members(g)
        absent = [m for m in declared if m not in members and m not in TASKS.groups()]
        line = f"group {g} = {', '.join(declared)}"
        if [m for m in declared if m in TASKS.groups()]:
            line += f" (tasks: {', '.join(members)})"
        if absent:
            line += f"; not registered: {', '.join(absent)}"
        console.print(line, markup=False, highlight=False)


def _match(pattern: str, name: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)


def _root_for_listing(data_root: Path | None) -> Path | None:
    """Listing never builds the world: it reports the root if one is given or already built."""
    import os

    raw = data_root or os.environ.get("DEEM_DATA")
    if raw:
        return Path(raw)
    try:
        from .builders.world import default_world_path

        path = default_world_path()
        return path if path.is_dir() else None
    except (ImportError, AttributeError):
        return None


@app.command("models")
@user_errors
def models_cmd() -> None:
    """List model adapters and their abilities."""
    from rich.table import Table

    from . import report
    from .registry import MODELS

    table = Table(title="model adapters")
    table.add_column("model", no_wrap=True)  # names stay whole; the other columns wrap
    for col in ("generate", "score options", "generate images", "region masks", "prefix sharing", "about"):
        table.add_column(col)
    for name in MODELS.names():
        try:
            cls = MODELS.get(name)
        except UserError as exc:
            table.add_row(name, "?", "?", "?", "?", "?", f"unavailable: {exc}")
            continue
        base = cls.__mro__[-2]  # ModelAdapter

        def has(attr: str, cls=cls, base=base) -> str:
            return "yes" if getattr(cls, attr) is not getattr(base, attr) else "-"

        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        table.add_row(
            name, has("generate"), has("score_options"), has("generate_images"),
            "yes" if cls.supports_masks else "-", cls.prefix_sharing, doc,
        )
    report.console().print(table)
    for name in MODELS.names():  # adapters that run several model families list what each supports
        try:
            rows = getattr(MODELS.get(name), "capabilities", lambda: [])()
        except UserError:
            continue
        if rows:
            fam = Table(title=f"{name}: model families")
            for col in rows[0]:
                fam.add_column(col)
            for row in rows:
                fam.add_row(*row.values())
            report.console().print(fam)


@app.command("run")
@user_errors
def run_cmd(
    model: Annotated[str, typer.Option(help="Model adapter name (see `deem-eval models`)")],
    tasks: Annotated[str, typer.Option(help="Comma-separated tasks, groups or patterns")],
    model_args: Annotated[str | None, typer.Option(help="k=v,... passed to the adapter")] = None,
    data_root: Annotated[Path | None, typer.Option(help="Data root (default: $DEEM_DATA or the built-in world)")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N samples of each task")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    seed: Annotated[int, typer.Option()] = 0,
    scoring: Annotated[str, typer.Option(help="generate | logits")] = "generate",
    output_dir: Annotated[Path, typer.Option(help="Where runs are written")] = Path("runs"),
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the response cache")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any sample errored")] = False,
    task_args: Annotated[str | None, typer.Option(help="task.key=value,... task options")] = None,
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95% CIs")] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars")] = False,
    judge: Annotated[str | None, typer.Option(help="LLM judge for tasks scored by one: openai | hf")] = None,
    judge_args: Annotated[str | None, typer.Option(help="k=v,... for the judge (base_url=,model= or pretrained=)")] = None,
) -> None:
    """Evaluate a model on tasks; writes results.json and samples_<task>.jsonl."""
    from .data_root import resolve_data_root
    from .models.base import parse_model_args
    from .registry import MODELS, TASKS
    from .report import print_results
    from .run import run, task_args_for
    from .runner import RunSettings

    if scoring not in ("generate", "logits"):
        raise UserError(f"--scoring must be generate or logits, not {scoring!r}")
    # a misspelt name fails at once, before the default data root (the built-in world) is built
    task_args_for(TASKS.expand(tasks), task_args)
    MODELS.get(model)
    root = resolve_data_root(data_root)
    settings = RunSettings(batch_size=batch_size, scoring=scoring, limit=limit, seed=seed, n_boot=n_boot)
    out = run(
        model, parse_model_args(model_args), tasks, root, output_dir, settings,
        use_cache=not no_cache, task_args=task_args, show_progress=not quiet,
        judge_kind=judge, judge_args=_judge_args(judge_args),
    )
    if out.doc is None:
        return
    print_results(out.doc)
    typer.echo(f"results: {out.run_dir / 'results.json'}")
    n_err = sum(t["n_errors"] for t in out.doc["tasks"].values())
    if n_err:
        _err(f"{n_err} sample(s) failed; see the 'error' field in the samples files")
        if strict:
            raise typer.Exit(code=1)


@app.command("score")
@user_errors
def score_cmd(
    task: Annotated[str, typer.Option(help="Task name")],
    predictions: Annotated[Path, typer.Option(help="JSONL with id and prediction per line")],
    data_root: Annotated[Path | None, typer.Option()] = None,
    output: Annotated[Path | None, typer.Option(help="Write the task's result JSON here")] = None,
    task_args: Annotated[str | None, typer.Option(help="task.key=value,...")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    judge: Annotated[str | None, typer.Option(help="LLM judge for tasks scored by one: openai | hf")] = None,
    judge_args: Annotated[str | None, typer.Option(help="k=v,... for the judge (base_url=,model= or pretrained=)")] = None,
) -> None:
    """Re-score a predictions file (a run's samples_<task>.jsonl works as-is)."""
    import json

    from .data_root import resolve_data_root
    from .io import atomic_write_text
    from .registry import TASKS
    from .report import print_results
    from .run import task_args_for
    from .scoring import score_file

    TASKS.get(task)
    root = resolve_data_root(data_root)
    args = task_args_for([task], task_args).get(task, {})
    with _judge_for_scoring(judge, _judge_args(judge_args)) as cached_judge:
        result, missing, unknown = score_file(task, predictions, root, args, seed=seed, judge=cached_judge)
    doc = {"tasks": {task: result.summary()}}
    print_results(doc)
    if missing:
        _err(f"{len(missing)} sample id(s) have no prediction (first: {', '.join(missing[:5])}); not scored")
    if unknown:
        _err(f"{len(unknown)} prediction id(s) are not samples of {task} (first: {', '.join(unknown[:5])})")
    if output:
        doc["tasks"][task]["missing_ids"] = missing
        doc["tasks"][task]["unknown_ids"] = unknown
        atomic_write_text(output, json.dumps(doc, indent=2) + "\n")


def _judge_args(spec: str | None) -> dict[str, str]:
    from .task import key_value_pairs

    return dict(key_value_pairs(spec, "--judge-args", "key=value"))


@contextlib.contextmanager
def _judge_for_scoring(kind: str | None, args: dict[str, str]):
    """The judge for `score`, its verdicts cached in the response cache like a run's."""
    if kind is None:
        if args:
            raise UserError("--judge-args given without --judge openai|hf")
        yield None
        return
    from .cache import ResponseCache
    from .judge import CachedJudge, make_judge
    from .runtime import cache_dir

    cache = ResponseCache(Path(cache_dir()) / "responses.sqlite")
    try:
        yield CachedJudge(make_judge(kind, args), cache)
    finally:
        cache.close()


@build_app.command("world")
@user_errors
def build_world_cmd(
    out: Annotated[Path, typer.Option(help="Output folder")],
    size: Annotated[str, typer.Option(help="small | full")] = "full",
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Build the synthetic perception world in the real benchmark layouts."""
    from .builders.world import build_world

    if size not in ("small", "full"):
        raise UserError(f"--size must be small or full, not {size!r}")
    counts = build_world(out, size=size, seed=seed)
    for part, n in counts.items():
        typer.echo(f"{part}: {n}")
    typer.echo(f"world written to {out}")


@build_app.command("robustvqa")
@user_errors
def build_robustvqa_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (usable as <data-root>/robustvqa)")],
    imagenet_a: Annotated[Path | None, typer.Option("--imagenet-a")] = None,
    imagenet_r: Annotated[Path | None, typer.Option("--imagenet-r")] = None,
    imagenet_v2: Annotated[Path | None, typer.Option("--imagenet-v2")] = None,
    clip_model: Annotated[str, typer.Option(help="open_clip model name or local-dir:PATH")] = "ViT-L-14",
    clip_pretrained: Annotated[str | None, typer.Option(help="pretrained tag or checkpoint path")] = "openai",
    classnames: Annotated[Path | None, typer.Option(help="JSON/TSV: wnid or folder -> class name")] = None,
    keep: Annotated[str, typer.Option(help="all | misclassified")] = "all",
    templates: Annotated[str, typer.Option(help="openai | simple | single")] = "openai",
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    num_workers: Annotated[int, typer.Option(min=0)] = 2,
    device: Annotated[str | None, typer.Option(help="cpu | cuda (default: cuda when available)")] = None,
) -> None:
    """Build RobustVQA from ImageNet-A/-R/-V2 by CLIP hard-negative mining."""
    import os

    from .builders.robustvqa import build_robustvqa

    manifest = build_robustvqa(
        out, imagenet_a, imagenet_r, imagenet_v2, clip_model=clip_model, clip_pretrained=clip_pretrained,
        classnames=classnames, keep=keep, batch_size=batch_size, templates=templates, num_workers=num_workers,
        device=device,
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return
    for split, n in manifest.get("counts", {}).items():
        typer.echo(f"{split}: {n} items")
    typer.echo(f"robustvqa written to {out}")


@app.command("leaderboard")
@user_errors
def leaderboard_cmd(
    runs: Annotated[Path, typer.Option(help="Folder holding run outputs")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="CSV path; the PNG goes beside it")] = Path("results/leaderboard.csv"),
    compare: Annotated[str | None, typer.Option(
        help="A,B: paired significance per task of B − A (model names as on the leaderboard, or run folders); "
        "writes no files")] = None,
    data_root: Annotated[Path | None, typer.Option(help="--compare: the tasks' data (default: the runs' own)")] = None,
    n_boot: Annotated[int, typer.Option(min=1, help="--compare: bootstrap resamples")] = 1000,
    seed: Annotated[int, typer.Option(help="--compare: bootstrap seed")] = 0,
) -> None:
    """Collect the latest run per model/checkpoint into a CSV and a chart, or compare two of them."""
    if compare is not None:
        from .paired import compare_sides
        from .report import print_paired
        from .runs import resolve_side

        names = [x.strip() for x in compare.split(",")]
        if len(names) != 2 or not all(names):
            raise UserError(f"--compare takes two names separated by a comma (A,B), not {compare!r}")
        a, b = (resolve_side(n, runs) for n in names)
        results = compare_sides(a.runs, b.runs, data_root=data_root, n_boot=n_boot, seed=seed)
        if not results:
            raise UserError(f"{a.name} and {b.name} share no task")
        print_paired(results, a.name, b.name)
        return
    from .leaderboard import write
    from .report import print_leaderboard

    df = write(runs, out)
    print_leaderboard(df)
    typer.echo(f"wrote {out} and {out.with_suffix('.png')}")


@app.command("report")
@user_errors
def report_cmd(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (each holding results.json)")],
    out: Annotated[Path, typer.Option(help="The HTML file to write")] = Path("report.html"),
    data_root: Annotated[Path | None, typer.Option(help="The tasks' data for the paired tests (default: the runs' own)")] = None,
    n_boot: Annotated[int, typer.Option(min=1, help="Bootstrap resamples of the paired tests")] = 1000,
    thumbnails: Annotated[bool, typer.Option(help="Embed image thumbnails in the sample browser")] = True,
) -> None:
    """Write one self-contained HTML report: metrics, plots, a sample browser, two-run differences."""
    from .html_report import write_report

    write_report(run_dirs, out, data_root=data_root, n_boot=n_boot, thumbnails=thumbnails)
    typer.echo(f"wrote {out}")


@app.command("regress")
@user_errors
def regress_cmd(
    baseline: Annotated[Path, typer.Option(help="Baseline results.json")],
    current: Annotated[Path, typer.Option(help="Current results.json")],
    tolerance: Annotated[float, typer.Option(min=0.0, help="Allowed drop (metric units)")] = 0.0,
) -> None:
    """Exit 1 when any shared metric dropped by more than the tolerance."""
    from .regress import compare, is_drop
    from .report import print_deltas

    deltas = compare(baseline, current)
    drops = [d for d in deltas if is_drop(d, tolerance)]
    print_deltas(deltas, tolerance)
    if drops:
        _err(f"{len(drops)} metric(s) regressed beyond tolerance {tolerance}")
        raise typer.Exit(code=1)
    typer.echo(f"no regression ({len(deltas)} metrics compared)")


def main() -> None:
    """Console entry point: click usage errors exit 2, our own errors exit 2, regressions exit 1."""
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
