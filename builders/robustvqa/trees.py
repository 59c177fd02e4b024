"""Discover and validate the ImageNet-A / -R / -V2 input trees.

A and R are `<root>/<wnid>/*` (a top-level README.txt is ignored); V2 is `<root>/<k>/*` with
`k` the class index in the sorted-wnid order, sorted as integers. With a `--classnames` file the
folder names are looked up in it instead, and the label space is the classes present in the tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from deem_eval.errors import DataError, UserError

from .wnids import all_wnids, split_wnids, wnid_index

LAYOUTS = {
    "imagenet_a": "ImageNet-A layout <root>/<wnid>/<image> with wnid folders of the 200 ImageNet-A classes",
    "imagenet_r": "ImageNet-R layout <root>/<wnid>/<image> with wnid folders of the 200 ImageNet-R classes",
    "imagenet_v2": "ImageNet-V2 layout <root>/<k>/<image> with integer folders 0..999 (sorted-wnid class index)",
}
_IGNORED_TOP_FILES = {"readme.txt"}


@dataclass(frozen=True)
class LabelClass:
    """One class of a split's label space: its key (wnid or classnames key) and caption."""

    key: str
    name: str


@dataclass(frozen=True)
class ImageItem:
    """One input image; `label` indexes the split's label space (the class of its folder)."""

    folder: str
    relpath: str
    size: int
    mtime_ns: int
    label: int


@dataclass
class SplitTree:
    """A validated input tree: its images in deterministic order and its label space."""

    split: str
    root: Path
    items: list[ImageItem] = field(default_factory=list)
    label_space: list[LabelClass] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClassNames:
    """Where captions come from: the built-in wnid → name table, or a user file."""

    mapping: dict[str, str]
    source: Path | None = None


def _is_canonical_int(name: str) -> bool:
    return name.isdigit() and str(int(name)) == name


def _folder_key(split: str, root: Path, folder: str, names: ClassNames) -> str:
    """The class key of a folder, or a DataError naming the folder and the expected layout."""
    layout = LAYOUTS[split]
    where = root / folder
    if split == "imagenet_v2":
        if not _is_canonical_int(folder):
            raise DataError(where, f"folder name {folder!r} is not an integer class index", expected=layout)
        k = int(folder)
        if names.source is not None:
            if folder in names.mapping:
                return folder
            if k < 1000 and all_wnids()[k] in names.mapping:
                return all_wnids()[k]
            raise DataError(where, f"folder {folder!r} has no entry in the classnames file {names.source}",
                            expected=f"a key {folder!r} (or its wnid) in {names.source}")
        if k >= 1000:
            raise DataError(where, f"class index {k} is out of range", expected=layout)
        return all_wnids()[k]
    if names.source is not None:
        if folder in names.mapping:
            return folder
        raise DataError(where, f"folder {folder!r} has no entry in the classnames file {names.source}",
                        expected=f"a key {folder!r} in {names.source}")
    if folder not in wnid_index():
        kind = "an integer (V2-style) folder" if folder.isdigit() else "neither a known wnid nor an integer"
        raise DataError(where, f"folder name {folder!r} is {kind}", expected=layout)
    if folder not in set(split_wnids(split)):
        raise DataError(where, f"wnid {folder} is not one of the classes of {split}", expected=layout)
    return folder


def _list_files(folder: Path) -> list[tuple[str, int, int]]:
    """(relative posix path, size, mtime_ns) of every non-hidden file below a class folder, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            st = path.stat()
            found.append((path.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    return sorted(found)


def scan_split(split: str, root: Path | str, names: ClassNames) -> SplitTree:
    """Validate one input tree and list its images with their ground-truth class."""
    root = Path(root)
    layout = LAYOUTS[split]
    if not root.is_dir():
        raise UserError(f"{root}: input folder for {split} not found (expected the {layout})")
    folders: list[str] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            folders.append(entry.name)
        elif entry.name.lower() not in _IGNORED_TOP_FILES:
            raise DataError(root, f"unexpected file {entry.name!r} at the top level", expected=layout)
    if not folders:
        raise DataError(root, "no class folders found (empty or unrecognised folder)", expected=layout)
    if split == "imagenet_v2" and all(_is_canonical_int(f) for f in folders):
        folders.sort(key=int)
    keys = {f: _folder_key(split, root, f, names) for f in folders}

    # Built-in names: the split's packaged label space; a classnames file: the classes in the tree.
    space_keys = split_wnids(split) if names.source is None else list(dict.fromkeys(keys[f] for f in folders))
    label_space = [LabelClass(k, names.mapping[k]) for k in space_keys]
    _check_unique(label_space, names, split)
    if len(label_space) < 2:
        raise DataError(root, f"the label space of {split} has {len(label_space)} class",
                        expected="at least two classes, so that a negative class exists")
    position = {c.key: i for i, c in enumerate(label_space)}

    tree = SplitTree(split=split, root=root, label_space=label_space, folders=folders)
    for folder in folders:
        for rel, size, mtime in _list_files(root / folder):
            tree.items.append(ImageItem(folder, f"{folder}/{rel}", size, mtime, position[keys[folder]]))
    if not tree.items:
        raise DataError(root, "no image files found in the class folders", expected=layout)
    return tree


def _check_unique(label_space: list[LabelClass], names: ClassNames, split: str) -> None:
    seen: dict[str, str] = {}
    for c in label_space:
        other = seen.setdefault(c.name.casefold(), c.key)
        if other != c.key:
            raise DataError(names.source or "built-in class names",
                            f"classes {other} and {c.key} of {split} share the name {c.name!r}",
                            expected="distinct names within a split's label space")
