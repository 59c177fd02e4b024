"""Human-readable class names and prompt templates for CLIP mining.

The built-in names come from open_clip's zero-shot metadata (index-aligned with the
sorted wnids). They are cleaned (no underscores) and made unique, because a yes/no
question whose negative reads exactly like the positive is unanswerable.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path

from deem_eval.errors import DataError, UserError

from .wnids import all_wnids

# Names for wnids whose metadata names collide (compared case-insensitively). Only
# applied to members of a collision group; any other collision gets a wnid suffix.
_KNOWN_DISAMBIGUATIONS = {
    "n02012849": "crane (bird)",
    "n03126707": "crane (machine)",
    "n03773504": "missile",
    "n04008634": "projectile",
    "n04355933": "sunglass",
    "n04356056": "sunglasses",
    "n03710637": "maillot",
    "n03710721": "tank suit",
    "n02113186": "Cardigan Welsh Corgi",
    "n02963159": "cardigan",
}

TEMPLATE_SETS = ("openai", "simple", "single")
_SINGLE_TEMPLATE = "a photo of a {}."


def clean_name(name: str) -> str:
    """Replace underscores by spaces and collapse whitespace."""
    return re.sub(r"\s+", " ", name.replace("_", " ")).strip()


def disambiguate(names: list[str], keys: list[str]) -> list[str]:
    """Make names unique (case-insensitively), deterministically, keeping unique names as they are."""
    if len(names) != len(keys):
        raise ValueError("names and keys must have the same length")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        groups[name.casefold()].append(i)
    out = list(names)
    for members in groups.values():
        if len(members) < 2:
            continue
        for i in members:
            out[i] = _KNOWN_DISAMBIGUATIONS.get(keys[i], f"{names[i]} ({keys[i]})")
    seen: dict[str, str] = {}
    for key, name in zip(keys, out, strict=True):
        other = seen.setdefault(name.casefold(), key)
        if other != key:
            raise RuntimeError(f"class names still collide after disambiguation: {name!r} ({other}, {key})")
    return out


def builtin_classnames() -> dict[str, str]:
    """wnid → unique, cleaned name for all 1000 ImageNet classes (open_clip metadata)."""
    from open_clip import zero_shot_metadata

    raw = list(zero_shot_metadata.IMAGENET_CLASSNAMES)
    wnids = all_wnids()
    if len(raw) != len(wnids):
        raise RuntimeError(f"open_clip ships {len(raw)} ImageNet class names, expected {len(wnids)}")
    names = disambiguate([clean_name(n) for n in raw], wnids)
    return dict(zip(wnids, names, strict=True))


def load_classnames_file(path: Path) -> dict[str, str]:
    """Read a `--classnames` file: a JSON object or TSV lines `key<TAB>name` (key = wnid or folder name)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: classnames file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        mapping = _parse_json(path, text)
    else:
        mapping = _parse_tsv(path, text)
    if not mapping:
        raise DataError(path, "no class names found", expected="at least one key → name entry")
    return mapping


def _parse_json(path: Path, text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg}", line=e.lineno) from e
    if not isinstance(data, dict):
        raise DataError(path, f"top level is a JSON {type(data).__name__}", expected="an object {key: name}")
    out: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str) or not clean_name(value):
            raise DataError(path, f"entry {key!r} has value {value!r}", expected="a non-empty string name")
        out[str(key)] = clean_name(value)
    return out


def _parse_tsv(path: Path, text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, row in enumerate(csv.reader(text.splitlines(), delimiter="\t"), start=1):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if len(row) != 2 or not row[0].strip() or not clean_name(row[1]):
            raise DataError(path, f"malformed line {row!r}", line=lineno, expected="key<TAB>name")
        key = row[0].strip()
        if key in out:
            raise DataError(path, f"duplicate key {key!r}", line=lineno)
        out[key] = clean_name(row[1])
    return out


def templates(kind: str) -> list[str]:
    """Prompt templates with a `{}` slot: the 80 OpenAI ImageNet ones, the 7-template set, or one."""
    if kind == "single":
        return [_SINGLE_TEMPLATE]
    if kind not in TEMPLATE_SETS:
        raise UserError(f"--templates {kind!r} is not known; expected one of {', '.join(TEMPLATE_SETS)}")
    from open_clip import zero_shot_metadata

    source = (
        zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES
        if kind == "openai"
        else zero_shot_metadata.SIMPLE_IMAGENET_TEMPLATES
    )
    return [t("{}") if callable(t) else str(t) for t in source]


def fill(template: str, name: str) -> str:
    """Put a class name into a template (names may contain braces, so no str.format)."""
    return template.replace("{}", name)
