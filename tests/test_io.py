"""deem_eval.io and data_root.inside on the shapes real files come in (BOM, CRLF, stray lines, bad bytes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import field, files_fingerprint, iter_csv, iter_jsonl, read_json

BOM = "\ufeff"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


# ---- read_json ---------------------------------------------------------------------------------
def test_read_json_accepts_a_byte_order_mark(tmp_path):
    p = write(tmp_path / "a.json", BOM + '{"questions": [1, 2]}')
    assert read_json(p) == {"questions": [1, 2]}


def test_read_json_trailing_garbage_names_its_line(tmp_path):
    p = write(tmp_path / "a.json", '{"a": 1}\n\n}garbage\n')
    with pytest.raises(DataError) as exc:
        read_json(p, expected="a layout")
    assert exc.value.line == 3 and exc.value.path == p
    assert "a layout" in str(exc.value)


@pytest.mark.parametrize("content", [b"", b"   \n"])
def test_read_json_empty_file_is_a_located_error(tmp_path, content):
    p = write(tmp_path / "a.json", content)
    with pytest.raises(DataError) as exc:
        read_json(p)
    assert exc.value.line is not None and "not valid JSON" in str(exc.value)


def test_read_json_latin1_bytes_are_a_data_error(tmp_path):
    p = write(tmp_path / "a.json", '{"q": "café"}'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_json(p)


def test_read_json_on_a_folder_is_a_data_error(tmp_path):
    (tmp_path / "a.json").mkdir()
    with pytest.raises(DataError, match="not a file"):
        read_json(tmp_path / "a.json")


# ---- iter_jsonl --------------------------------------------------------------------------------
def test_jsonl_blank_lines_crlf_and_bom_keep_true_line_numbers(tmp_path):
    p = write(tmp_path / "a.jsonl", BOM + '{"i": 1}\r\n\r\n   \r\n{"i": 2}\r\n\n')
    assert list(iter_jsonl(p)) == [(1, {"i": 1}), (4, {"i": 2})]


def test_jsonl_trailing_garbage_names_the_line(tmp_path):
    p = write(tmp_path / "a.jsonl", '{"i": 1}\n{"i": 2}\n{"i": 3} x\n')
    with pytest.raises(DataError) as exc:
        list(iter_jsonl(p))
    assert exc.value.line == 3 and str(p) in str(exc.value)


def test_jsonl_truncated_last_line_names_the_line(tmp_path):
    p = write(tmp_path / "a.jsonl", '{"i": 1}\n{"i": 2, "q": "Is th')
    with pytest.raises(DataError) as exc:
        list(iter_jsonl(p))
    assert exc.value.line == 2


@pytest.mark.parametrize(("text", "message", "line"), [
    ('\n{\n  "i": 1,\n  "q": "a"\n}\n', "one JSON object over several lines", 2),  # json.dump(..., indent=2)
    ('{\n  "i": 1,\n', "not valid JSON", 1),  # a broken one stays a plain JSON error
    ('{"i": 1}\n{\n  "i": 2\n}\n', "not valid JSON", 2),  # only the first line can start such a file
])
def test_jsonl_pretty_printed_object_is_told_apart(tmp_path, text, message, line):
    p = write(tmp_path / "a.jsonl", text)
    with pytest.raises(DataError, match=message) as exc:
        list(iter_jsonl(p))
    assert exc.value.line == line


def test_a_json_array_file_is_read_with_the_line_each_object_starts_on(tmp_path):
    text = BOM + '[\r\n  {"i": 1,\r\n   "q": "a, b]"},\r\n\r\n  {"i": 2}\r\n]\r\n'
    p = write(tmp_path / "a.json", text)
    assert list(iter_jsonl(p)) == [(2, {"i": 1, "q": "a, b]"}), (5, {"i": 2})]
    assert list(iter_jsonl(write(tmp_path / "one.json", '[{"i": 1}, {"i": 2}]'))) == [(1, {"i": 1}), (1, {"i": 2})]
    assert list(iter_jsonl(write(tmp_path / "empty.json", "\n [ ] \n"))) == []


@pytest.mark.parametrize(("text", "line", "message"), [
    ('[\n{"i": 1},\n{"i": 2,\n', 3, "not valid JSON"),          # truncated inside the second object
    ('[\n{"i": 1},\n{"i": 2}\n', 3, "not closed"),               # no closing bracket
    ('[\n{"i": 1},\n', 2, "not closed"),
    ('[\n{"i": 1},\n7\n]', 3, "not an object"),
    ('[\n{"i": 1}\n{"i": 2}\n]', 3, "expected ',' or ']'"),   # a missing comma
    ('[\n{"i": 1}\n]\n{"i": 2}\n', 4, "after the end"),
])
def test_a_bad_json_array_names_the_line(tmp_path, text, line, message):
    p = write(tmp_path / "a.json", text)
    with pytest.raises(DataError, match=message) as exc:
        list(iter_jsonl(p))
    assert exc.value.line == line and str(p) in str(exc.value)


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "3", "null"])
def test_jsonl_non_object_lines_are_refused(tmp_path, line):
    p = write(tmp_path / "a.jsonl", '{"i": 1}\n' + line + "\n")
    with pytest.raises(DataError, match="not an object") as exc:
        list(iter_jsonl(p))
    assert exc.value.line == 2


def test_jsonl_bad_bytes_name_the_line(tmp_path):
    p = write(tmp_path / "a.jsonl", b'{"i": 1}\n{"i": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not UTF-8") as exc:
        list(iter_jsonl(p))
    assert exc.value.line == 2


def test_jsonl_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        list(iter_jsonl(tmp_path / "nope.jsonl"))


# ---- iter_csv ----------------------------------------------------------------------------------
COLS = ("Index", "Question")


def test_csv_bom_crlf_quoted_commas_extra_columns_and_blank_tail(tmp_path):
    text = BOM + 'Index,Question,Notes\r\n1,"Open, or closed?",x\r\n2,"Say ""hi""",\r\n\r\n,,\r\n\r\n'
    p = write(tmp_path / "q.csv", text)
    rows = list(iter_csv(p, COLS))
    assert [(n, r["Index"], r["Question"]) for n, r in rows] == [
        (2, "1", "Open, or closed?"),
        (3, "2", 'Say "hi"'),
    ]


def test_csv_header_names_are_stripped(tmp_path):
    p = write(tmp_path / "q.csv", " Index , Question \n1,Q\n")
    assert list(iter_csv(p, COLS)) == [(2, {"Index": "1", "Question": "Q"})]


def test_csv_missing_column_names_line_1_and_the_columns(tmp_path):
    p = write(tmp_path / "q.csv", "Index,Text\n1,Q\n")
    with pytest.raises(DataError, match="Question") as exc:
        list(iter_csv(p, COLS))
    assert exc.value.line == 1


def test_csv_short_row_names_its_line(tmp_path):
    p = write(tmp_path / "q.csv", "Index,Question\n1,Q\n2\n")
    with pytest.raises(DataError, match="wrong number of fields") as exc:
        list(iter_csv(p, COLS))
    assert exc.value.line == 3


def test_csv_row_with_an_extra_value_names_its_line(tmp_path):
    p = write(tmp_path / "q.csv", "Index,Question\n1,Q\n2,Q,surplus\n")
    with pytest.raises(DataError, match="wrong number of fields") as exc:
        list(iter_csv(p, COLS))
    assert exc.value.line == 3


def test_csv_trailing_empty_fields_are_tolerated(tmp_path):
    p = write(tmp_path / "q.csv", "Index,Question\n1,Q,,\n")
    assert [r["Question"] for _, r in iter_csv(p, COLS)] == ["Q"]


def test_csv_multiline_quoted_field_reports_the_record_line(tmp_path):
    p = write(tmp_path / "q.csv", 'Index,Question\n1,"two\nlines"\n2\n')
    rows = iter_csv(p, COLS)
    assert next(rows) == (3, {"Index": "1", "Question": "two\nlines"})
    with pytest.raises(DataError) as exc:
        next(rows)
    assert exc.value.line == 4


@pytest.mark.parametrize(
    "content, message",
    [
        (b"Index,Question\n1,Q\n2," + b"x" * 200_000 + b"\n", "not a readable CSV"),
        (b"Index,Question\n1,Q\n2,caf\xe9\n", "not UTF-8"),
    ],
)
def test_csv_unreadable_rows_and_bad_bytes_name_the_line(tmp_path, content, message):
    p = write(tmp_path / "q.csv", content)
    with pytest.raises(DataError, match=message) as exc:
        list(iter_csv(p, COLS))
    assert exc.value.path == p and exc.value.line == 3


def test_csv_empty_file_names_the_header(tmp_path):
    p = write(tmp_path / "q.csv", b"")
    with pytest.raises(DataError, match="header lacks Index, Question"):
        list(iter_csv(p, COLS))


# ---- field -------------------------------------------------------------------------------------
def test_field_checks_presence_and_type(tmp_path):
    p = tmp_path / "f"
    assert field({"q": 3}, "q", p, 1, (int, str)) == 3
    assert field({"q": "3"}, "q", p, 1, (int, str)) == "3"
    with pytest.raises(DataError, match="missing key 'q'") as exc:
        field({}, "q", p, 7, int)
    assert exc.value.line == 7
    with pytest.raises(DataError, match=r"'q' is a number \(expected an integer or a string\)"):
        field({"q": 1.0}, "q", p, 1, (int, str))
    with pytest.raises(DataError, match="'q' is null"):
        field({"q": None}, "q", p, 1, str)


@pytest.mark.parametrize("kind", [int, (int, str)])
def test_field_never_takes_a_bool_for_an_integer(tmp_path, kind):
    with pytest.raises(DataError, match="'q' is a boolean"):
        field({"q": True}, "q", tmp_path / "f", 1, kind)


# ---- inside ------------------------------------------------------------------------------------
def test_inside_accepts_odd_but_legal_names(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["a b.JPG", "caf\u00e9 #1.jpeg", "sub/x.PNG", "./sub/../y.jpg"]:
        assert inside(tmp_path, name, "image", tmp_path / "f") == (tmp_path / name).resolve()


@pytest.mark.parametrize("rel", ["../x.jpg", "sub/../../x.jpg", "/etc/passwd", "", ".", "sub/.."])
def test_inside_refuses_paths_outside_or_the_root_itself(tmp_path, rel):
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError, match="inside the data folder") as exc:
        inside(tmp_path, rel, "image", tmp_path / "list.json", line=4)
    assert exc.value.line == 4 and exc.value.path == tmp_path / "list.json"


def test_inside_refuses_a_symlink_leading_out(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"x")
    os.symlink(outside, root / "link")
    with pytest.raises(DataError, match="points outside"):
        inside(root, "link/x.jpg", "image", root / "f")


def test_inside_follows_a_symlink_that_stays_inside(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert inside(tmp_path, "alias/x.jpg", "image", tmp_path / "f") == (tmp_path / "real" / "x.jpg").resolve()


def test_inside_refuses_a_nul_byte(tmp_path):
    with pytest.raises(DataError, match="image"):
        inside(tmp_path, "a\x00.jpg", "image", tmp_path / "f")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"n": ' + "9" * 5000 + "}"])
def test_pathological_json_is_a_data_error(tmp_path, text):
    p = write(tmp_path / "a.json", text)
    with pytest.raises(DataError, match="unreadable JSON"):
        read_json(p)
    q = write(tmp_path / "a.jsonl", '{"i": 1}\n' + text + "\n")
    with pytest.raises(DataError, match="unreadable JSON") as exc:
        list(iter_jsonl(q))
    assert exc.value.line == 2


def test_inside_works_under_a_symlinked_data_root(tmp_path):
    (tmp_path / "real" / "images").mkdir(parents=True)
    os.symlink(tmp_path / "real", tmp_path / "root")
    got = inside(tmp_path / "root" / "images", "x.jpg", "image", tmp_path / "f")
    assert got == (tmp_path / "real" / "images" / "x.jpg").resolve()


def test_files_fingerprint_tracks_name_size_and_mtime(tmp_path):
    import hashlib

    f = tmp_path / "data" / "a.parquet"
    f.parent.mkdir()
    f.write_bytes(b"12345")
    st = f.stat()
    by_hand = hashlib.sha256(b"salt" + f"data/a.parquet:5:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    assert files_fingerprint(tmp_path, [f], salt="salt") == by_hand
    before = files_fingerprint(tmp_path, [f])
    f.write_bytes(b"123456")
    assert files_fingerprint(tmp_path, [f]) != before
