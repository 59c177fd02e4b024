"""Discovery and validation of ImageNet-A / -R / -V2 input trees."""

from __future__ import annotations

import json
import shutil

import pytest
from deem_eval.builders.robustvqa.classnames import builtin_classnames, load_classnames_file
from deem_eval.builders.robustvqa.trees import ClassNames, scan_split
from deem_eval.builders.robustvqa.wnids import all_wnids, split_wnids

from deem_eval.errors import DataError, UserError

from .robustvqa_helpers import A_WNIDS, FIXED_NAMES, make_trees, write_classnames


@pytest.fixture(scope="module")
def builtin():
    return ClassNames(builtin_classnames())


@pytest.fixture
def trees(tmp_path):
    return make_trees(tmp_path / "in")


def test_imagenet_a_tree_with_builtin_names(trees, builtin):
    tree = scan_split("imagenet_a", trees["imagenet_a"], builtin)
    assert tree.folders == A_WNIDS  # README.txt ignored
    assert [c.key for c in tree.label_space] == split_wnids("imagenet_a")
    assert len(tree.items) == 10
    for it in tree.items:
        assert tree.label_space[it.label].key == it.folder
        assert tree.label_space[it.label].name == builtin.mapping[it.folder]
        assert it.relpath.startswith(it.folder + "/")
    assert [it.relpath for it in tree.items] == sorted(it.relpath for it in tree.items)


def test_v2_folders_sort_as_integers(trees, builtin):
    tree = scan_split("imagenet_v2", trees["imagenet_v2"], builtin)
    assert tree.folders == ["0", "1", "2", "10"]
    assert len(tree.label_space) == 1000
    assert [it.folder for it in tree.items] == ["0", "0", "1", "1", "2", "2", "10", "10"]
    for it in tree.items:
        assert tree.label_space[it.label].key == all_wnids()[int(it.folder)]


def test_classnames_label_space_is_the_classes_present(trees, tmp_path):
    path = write_classnames(tmp_path / "names.json")
    names = ClassNames(load_classnames_file(path), path)
    tree = scan_split("imagenet_v2", trees["imagenet_v2"], names)
    assert [c.name for c in tree.label_space] == [FIXED_NAMES[k] for k in ("0", "1", "2", "10")]
    a = scan_split("imagenet_a", trees["imagenet_a"], names)
    assert [c.key for c in a.label_space] == A_WNIDS


def _mkdir_image(folder):
    folder.mkdir(parents=True)
    (folder / "x.jpg").write_bytes(b"x")


@pytest.mark.parametrize(
    ("split", "folder", "pattern"),
    [
        ("imagenet_a", "n99999999", r"n99999999.*neither a known wnid nor an integer.*ImageNet-A layout"),
        ("imagenet_a", "17", r"17.*integer \(V2-style\) folder"),
        ("imagenet_a", "n01440764", r"wnid n01440764 is not one of the classes of imagenet_a"),
        ("imagenet_v2", "1000", r"1000: class index 1000 is out of range"),
        ("imagenet_v2", "dog", r"dog: folder name 'dog' is not an integer"),
        ("imagenet_v2", "07", r"07: folder name '07' is not an integer"),
    ],
)
def test_bad_folder_names_name_the_folder(trees, builtin, split, folder, pattern):
    _mkdir_image(trees[split] / folder)
    with pytest.raises(DataError, match=pattern):
        scan_split(split, trees[split], builtin)


def test_empty_and_missing_folders(tmp_path, builtin):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: no class folders found.*ImageNet-R layout"):
        scan_split("imagenet_r", empty, builtin)
    with pytest.raises(UserError, match=r"missing: input folder for imagenet_v2 not found"):
        scan_split("imagenet_v2", tmp_path / "missing", builtin)
    (empty / split_wnids("imagenet_r")[0]).mkdir()
    with pytest.raises(DataError, match="no image files found"):
        scan_split("imagenet_r", empty, builtin)


def test_unexpected_top_level_file(trees, builtin):
    (trees["imagenet_r"] / "labels.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"imagenet-r: unexpected file 'labels.csv'"):
        scan_split("imagenet_r", trees["imagenet_r"], builtin)


def test_folder_missing_from_classnames(trees, tmp_path):
    path = write_classnames(tmp_path / "names.json")
    names = ClassNames(load_classnames_file(path), path)
    shutil.copytree(trees["imagenet_v2"] / "0", trees["imagenet_v2"] / "5")
    with pytest.raises(DataError, match=r"/5: folder '5' has no entry in the classnames file"):
        scan_split("imagenet_v2", trees["imagenet_v2"], names)


def test_duplicate_names_in_label_space(trees, tmp_path):
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(dict(zip(A_WNIDS, ["kettle", "Kettle", "lamp"], strict=True))))
    names = ClassNames(load_classnames_file(path), path)
    with pytest.raises(DataError, match=r"dup.json: classes .* share the name"):
        scan_split("imagenet_a", trees["imagenet_a"], names)


def test_single_class_has_no_negative(tmp_path):
    path = tmp_path / "one.json"
    path.write_text('{"n01498041": "kettle"}')
    root = tmp_path / "a"
    _mkdir_image(root / "n01498041")
    with pytest.raises(DataError, match="at least two classes"):
        scan_split("imagenet_a", root, ClassNames(load_classnames_file(path), path))
