"""Class names and prompt templates for RobustVQA mining."""

from __future__ import annotations

import pytest
from deem_eval.builders.robustvqa.classnames import (
    builtin_classnames,
    clean_name,
    disambiguate,
    fill,
    load_classnames_file,
    templates,
)
from deem_eval.builders.robustvqa.wnids import all_wnids, split_wnids, wnid_index

from deem_eval.errors import DataError, UserError


def test_packaged_wnid_facts():
    wnids = all_wnids()
    assert len(wnids) == 1000 and wnids == sorted(wnids)
    assert wnids[0] == "n01440764" and wnids[999] == "n15075141"
    for split in ("imagenet_a", "imagenet_r"):
        sub = split_wnids(split)
        assert len(sub) == 200 and set(sub) <= set(wnids)
    assert wnid_index()["n01440764"] == 0
    with pytest.raises(ValueError):
        split_wnids("imagenet_b")


def test_builtin_names_are_clean_and_unique():
    names = builtin_classnames()
    assert list(names) == all_wnids()
    values = list(names.values())
    assert not [n for n in values if "_" in n or n != n.strip() or "  " in n]
    assert len({n.casefold() for n in values}) == 1000
    # The two metadata "missile" and "sunglasses" entries become distinguishable.
    assert names["n03773504"] == "missile" and names["n04008634"] == "projectile"
    assert names["n04355933"] == "sunglass" and names["n04356056"] == "sunglasses"
    assert names["n01440764"] == "tench"


def test_disambiguate_uses_table_then_wnid_suffix():
    keys = ["n02012849", "n03126707", "k1", "k2", "k3"]
    out = disambiguate(["crane", "Crane", "bat", "bat", "owl"], keys)
    assert out == ["crane (bird)", "crane (machine)", "bat (k1)", "bat (k2)", "owl"]


def test_clean_name():
    assert clean_name("  great_white__shark ") == "great white shark"


def test_templates_sets():
    openai, simple, single = templates("openai"), templates("simple"), templates("single")
    assert (len(openai), len(simple), len(single)) == (80, 7, 1)
    assert all(t.count("{}") == 1 for t in openai + simple)
    assert openai[0] == "a bad photo of a {}."
    assert fill(single[0], "tench {x}") == "a photo of a tench {x}."
    with pytest.raises(UserError, match="--templates"):
        templates("fancy")


def test_classnames_json_and_tsv(tmp_path):
    js = tmp_path / "names.json"
    js.write_text('{"n01440764": "tench_fish", "7": "cock"}')
    assert load_classnames_file(js) == {"n01440764": "tench fish", "7": "cock"}
    tsv = tmp_path / "names.tsv"
    tsv.write_text("# key\tname\nn01440764\ttench\n\n10\tbrambling\n")
    assert load_classnames_file(tsv) == {"n01440764": "tench", "10": "brambling"}


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        ("bad.tsv", "n01440764\ttench\nonly-a-key\n", r"bad.tsv, line 2.*key<TAB>name"),
        ("dup.tsv", "a\tx\na\ty\n", r"dup.tsv, line 2: duplicate key 'a'"),
        ("list.json", '["tench"]', r"list.json: top level is a JSON list"),
        ("broken.json", '{"a": "x",\n', r"broken.json, line \d+: invalid JSON"),
        ("empty.json", '{"a": ""}', r"empty.json: entry 'a'"),
    ],
)
def test_classnames_errors_name_file_and_line(tmp_path, name, text, pattern):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=pattern):
        load_classnames_file(path)


def test_classnames_missing_file(tmp_path):
    with pytest.raises(UserError, match="classnames file not found"):
        load_classnames_file(tmp_path / "nope.json")
