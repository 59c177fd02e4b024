"""Real-format but hostile or odd input through the real entry points: task samples, score_file, the CLI.

Every malformed file must end in one DataError (CLI: exit 2, one message naming the file and,
when there is one, the line); a bad image must be a per-sample error on the right sample.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from PIL import Image

import tests.plugins.toy  # noqa: F401  (registers toy-model)
from deem_eval.errors import DataError, SampleError
from deem_eval.registry import TASKS
from deem_eval.safe_pickle import loads_plain
from deem_eval.samples import ImageRef
from deem_eval.scoring import score_file

from .util import FIXTURES, assert_clean_exit_2, cli, copy_fixture, pope_root, q, write_predictions


def samples(name: str, root: Path, **config) -> list:
    cls = TASKS.get(name)
    return list(cls(root, cls.Config(**config)).samples())


def png(path: Path, colour=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path, format="PNG")
    return path


# ---- images: odd names and corrupt files ---------------------------------------------------------
ODD_NAMES = ["a b.JPG", "caf\u00e9 \u732b.jpeg", "x#1.png", "UPPER.PNG"]


def test_pope_odd_file_names_load_their_own_images(tmp_path):
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 90)]
    root = pope_root(tmp_path, [q(i + 1, name) for i, name in enumerate(ODD_NAMES)])
    for name, colour in zip(ODD_NAMES, colours, strict=True):
        png(root / "pope" / "images" / name, colour)
    got = samples("pope_random", root)
    assert [s.image.key for s in got] == ODD_NAMES
    assert [s.image.load().getpixel((0, 0)) for s in got] == colours


@pytest.mark.parametrize(
    "content",
    [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, b"GIF89a garbage", b"<html>not found</html>"],
    ids=["zero-bytes", "png-header-only", "bad-gif", "html"],
)
def test_corrupt_image_is_a_sample_error_naming_the_file(tmp_path, content):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    with pytest.raises(SampleError, match="bad.jpg"):
        ImageRef(key="bad.jpg", path=bad).load()


def test_truncated_jpeg_is_a_sample_error(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 10)).save(buf, format="JPEG")
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(SampleError, match="cut.jpg"):
        ImageRef(key="cut.jpg", path=bad).load()


def test_image_path_that_is_a_folder_is_a_sample_error(tmp_path):
    (tmp_path / "d.jpg").mkdir()
    with pytest.raises(SampleError, match="d.jpg"):
        ImageRef(key="d.jpg", path=tmp_path / "d.jpg").load()


def test_run_marks_only_the_sample_with_the_corrupt_image(tmp_path):
    """A truncated image and a missing one are per-sample errors; neighbours keep their own answers."""
    root = pope_root(tmp_path, [q(1, "red.png"), q(2, "bad.png"), q(3, "green.png", "no"), q(4, "gone.png")])
    png(root / "pope" / "images" / "red.png", (200, 10, 10))
    png(root / "pope" / "images" / "green.png", (10, 200, 10))
    good = (root / "pope" / "images" / "red.png").read_bytes()
    (root / "pope" / "images" / "bad.png").write_bytes(good[: len(good) // 2])
    out = tmp_path / "runs"
    res = cli("run", "--model", "toy-model", "--tasks", "pope_random", "--data-root", str(root),
              "--output-dir", str(out), "--n-boot", "0", "--no-cache", "--quiet")
    assert res.exit_code == 0, res.output
    (samples_file,) = out.rglob("samples_pope_random.jsonl")
    lines = [json.loads(x) for x in samples_file.read_text().splitlines()]
    by_id = {x["id"]: x for x in lines}
    assert sorted(by_id) == ["1", "2", "3", "4"]
    assert by_id["1"]["error"] is None and by_id["1"]["prediction"].lower().startswith("yes")
    assert by_id["3"]["error"] is None and by_id["3"]["prediction"].lower().startswith("no")
    assert "bad.png" in by_id["2"]["error"] and by_id["2"]["prediction"] is None
    assert "gone.png" in by_id["4"]["error"]
    (results,) = out.rglob("results.json")
    summary = json.loads(results.read_text())["tasks"]["pope_random"]
    assert summary["n"] == 4 and summary["n_errors"] == 2
    assert summary["metrics"]["accuracy"] == 100.0  # both answered samples right


# ---- POPE lines --------------------------------------------------------------------------------
def test_pope_labels_in_any_case_and_spacing(tmp_path):
    root = pope_root(tmp_path, [q(1, label="Yes"), q(2, label="YES "), q(3, label=" no"), q(4, label="No")])
    assert [s.target for s in samples("pope_random", root)] == ["yes", "yes", "no", "no"]


@pytest.mark.parametrize(
    "bad, line, message",
    [
        (q(2, label="maybe"), 2, "is not yes/no"),
        (q("1"), 2, "duplicate question_id 1"),  # "1" and 1 are the same id
        (q(True), 2, "'question_id' is a boolean"),
        (q(2.5), 2, "'question_id' is a number"),
        ({"question_id": 2, "image": "a.jpg", "label": "yes"}, 2, "missing key 'text'"),
        (q(2, image=None), 2, "'image' is null"),
        (q(2, image="../../../etc/passwd"), 2, "points outside"),
        (q(2, image="/etc/passwd"), 2, "points outside"),
        (q(2, image=""), 2, "data folder itself"),
        ('{"question_id": 2, "image": "a.jpg"', 2, "not valid JSON"),
        ("[1, 2]", 2, "not an object"),
    ],
)
def test_pope_bad_line_is_one_located_error(tmp_path, bad, line, message):
    root = pope_root(tmp_path, [q(1), bad])
    with pytest.raises(DataError, match=message) as exc:
        samples("pope_random", root)
    assert exc.value.line == line and exc.value.path.name == "coco_pope_random.json"


def test_pope_blank_lines_crlf_and_bom_are_the_official_format_still(tmp_path):
    root = pope_root(tmp_path, [])
    body = "\ufeff" + json.dumps(q(1)) + "\r\n\r\n" + json.dumps(q(2, label="no")) + "\r\n\n\n"
    (root / "pope" / "coco_pope_random.json").write_bytes(body.encode())
    assert [(s.id, s.target) for s in samples("pope_random", root)] == [("1", "yes"), ("2", "no")]


def test_pope_symlink_leading_out_of_the_images_folder_is_refused(tmp_path):
    root = pope_root(tmp_path, [q(1, "link/x.png")])
    png(tmp_path / "elsewhere" / "x.png")
    os.symlink(tmp_path / "elsewhere", root / "pope" / "images" / "link")
    with pytest.raises(DataError, match="points outside"):
        samples("pope_random", root)


def test_cli_score_on_a_garbled_pope_file_exits_2_naming_file_and_line(tmp_path):
    root = pope_root(tmp_path, [q(1), q(2), "{'question_id': 3}"])
    preds = write_predictions(tmp_path / "p.jsonl", {"1": "yes"})
    res = cli("score", "--task", "pope_random", "--predictions", str(preds), "--data-root", str(root))
    assert_clean_exit_2(res, "coco_pope_random.json, line 3", "not valid JSON", "expected JSON Lines")


def test_cli_run_on_a_garbled_pope_file_exits_2_naming_file_and_line(tmp_path):
    root = pope_root(tmp_path, [q(1), q(2, label="perhaps")])
    png(root / "pope" / "images" / "a.jpg")
    res = cli("run", "--model", "toy-model", "--tasks", "pope_random", "--data-root", str(root),
              "--output-dir", str(tmp_path / "runs"), "--no-cache", "--quiet")
    assert_clean_exit_2(res, "coco_pope_random.json, line 2", "'perhaps' is not yes/no")


# ---- MMVP CSV ----------------------------------------------------------------------------------
MMVP_HEAD = "Index,Question,Options,Correct Answer"


def mmvp_root(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "root"
    (root / "mmvp" / "MMVP Images").mkdir(parents=True)
    (root / "mmvp" / "Questions.csv").write_bytes(text.encode("utf-8"))
    return root


def test_mmvp_bom_crlf_quoted_commas_extra_column_and_blank_tail(tmp_path):
    rows = [
        MMVP_HEAD + ",Notes",
        '1,"Open, or closed?",(a) Open (b) Closed,(a),',
        '2,"Open, or closed?",(a) Open (b) Closed,(b),seen twice',
        '3,"Left, or right?","(a) Left, facing (b) Right",(A),',
        "",
        ",,,,",
    ]
    root = mmvp_root(tmp_path, "\ufeff" + "\r\n".join(rows) + "\r\n\r\n")
    got = samples("mmvp", root)
    assert [(s.id, s.question, s.target, s.meta["pair"]) for s in got] == [
        ("1", "Open, or closed?", "(a)", 0),
        ("2", "Open, or closed?", "(b)", 0),
        ("3", "Left, or right?", "(a)", 1),
    ]
    assert got[2].meta["options"] == [("a", "Left, facing"), ("b", "Right")]


def test_mmvp_odd_number_of_rows_scores_the_complete_pairs_only(tmp_path):
    body = "\n".join([MMVP_HEAD] + [f"{i},Q{i}?,(a) X (b) Y,(a)" for i in range(1, 6)]) + "\n"
    root = mmvp_root(tmp_path, body)
    preds = {"1": "(a)", "2": "(a)", "3": "(a)", "4": "(b)", "5": "(a)"}
    result, missing, unknown = score_file("mmvp", write_predictions(tmp_path / "p.jsonl", preds), root)
    assert (missing, unknown) == ([], [])
    assert result.metrics["accuracy"] == 80.0  # 4 of 5 questions
    assert result.metrics["pair_accuracy"] == 50.0  # pairs (1,2) right, (3,4) wrong, 5 alone is left out


@pytest.mark.parametrize(
    "row, line, message",
    [
        ("x,Q?,(a) X (b) Y,(a)", 3, "Index 'x' is not an integer"),
        ("1,Q?,(a) X (b) Y,(a)", 3, "Index 1 is repeated"),
        ("2,Q?,Open or closed,(a)", 3, "cannot read options"),
        ("2,Q?,(a) X (b) Y,(c)", 3, "is not one of the options"),
        ("2,Q?", 3, "wrong number of fields"),
    ],
)
def test_mmvp_bad_row_names_its_line(tmp_path, row, line, message):
    root = mmvp_root(tmp_path, f"{MMVP_HEAD}\n1,Q?,(a) X (b) Y,(a)\n{row}\n")
    with pytest.raises(DataError, match=message) as exc:
        samples("mmvp", root)
    assert exc.value.line == line and exc.value.path.name == "Questions.csv"


# ---- JSON documents of the wrong shape ---------------------------------------------------------
@pytest.mark.parametrize(
    "task, folder, file",
    [
        ("rvqa_a", "robustvqa", "robustvqa_test.json"),
        ("vqav2", "vqav2", "questions.json"),
        ("vqav2", "vqav2", "annotations.json"),
        ("coco_caption", "coco_caption", "dataset_coco.json"),
        ("refcocog", "refcocog", "instances.json"),
        ("fid_coco", "fid_coco", "captions.json"),
    ],
)
@pytest.mark.parametrize("doc", ["[]", '"text"', "null", "{}", '{"a": 1} trailing'])
def test_wrong_top_level_json_is_a_data_error_naming_the_file(tmp_path, task, folder, file, doc):
    root = copy_fixture(folder, tmp_path)
    (root / folder / file).write_text(doc)
    with pytest.raises(DataError) as exc:
        samples(task, root)
    assert exc.value.path.name == file


def test_robustvqa_file_name_escaping_the_folder_is_refused(tmp_path):
    root = copy_fixture("robustvqa", tmp_path)
    path = root / "robustvqa" / "robustvqa_test.json"
    doc = json.loads(path.read_text())
    doc["imagenet_a"][1]["file_name"] = "../../outside.jpg"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"imagenet_a\[1\] file_name '../../outside.jpg' points outside"):
        samples("rvqa_a", root)


def test_vqa_boolean_question_id_is_refused(tmp_path):
    root = copy_fixture("vqav2", tmp_path)
    path = root / "vqav2" / "questions.json"
    doc = json.loads(path.read_text())
    doc["questions"][1]["question_id"] = True
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"questions\[1\] is not an object with a question_id"):
        samples("vqav2", root)


def test_vqa_question_without_annotation_names_the_annotations_file(tmp_path):
    root = copy_fixture("vqav2", tmp_path)
    path = root / "vqav2" / "annotations.json"
    doc = json.loads(path.read_text())
    dropped = doc["annotations"].pop(1)["question_id"]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=f"no annotation for question_id {dropped}") as exc:
        samples("vqav2", root)
    assert exc.value.path == path


def test_vqa_ids_as_strings_in_one_file_and_ints_in_the_other_still_match(tmp_path):
    root = copy_fixture("vqav2", tmp_path)
    path = root / "vqav2" / "annotations.json"
    doc = json.loads(path.read_text())
    for ann in doc["annotations"]:
        ann["question_id"] = str(ann["question_id"])
    path.write_text(json.dumps(doc))
    clean = samples("vqav2", FIXTURES)
    got = samples("vqav2", root)
    assert [(s.id, s.target) for s in got] == [(s.id, s.target) for s in clean]


def test_coco_caption_without_the_requested_split_says_which_splits_exist(tmp_path):
    root = copy_fixture("coco_caption", tmp_path)
    path = root / "coco_caption" / "dataset_coco.json"
    doc = json.loads(path.read_text())
    for img in doc["images"]:
        img["split"] = "val" if img["split"] == "test" else img["split"]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="no images in split 'test'.*val") as exc:
        samples("coco_caption", root)
    assert exc.value.path == path


# ---- RefCOCOg refs pickle ----------------------------------------------------------------------
def refcocog_with_refs(tmp_path: Path, refs_bytes: bytes) -> Path:
    root = copy_fixture("refcocog", tmp_path)
    (root / "refcocog" / "refs(umd).p").write_bytes(refs_bytes)
    return root


def fixture_refs() -> list:
    return loads_plain((FIXTURES / "refcocog" / "refs(umd).p").read_bytes())


def test_refcocog_ref_pointing_at_a_missing_annotation_names_instances(tmp_path):
    refs = fixture_refs()
    refs[0]["ann_id"] = 999999
    root = refcocog_with_refs(tmp_path, pickle.dumps(refs, protocol=2))
    with pytest.raises(DataError, match="no annotation with id 999999") as exc:
        samples("refcocog", root)
    assert exc.value.path.name == "instances.json"


def test_refcocog_ref_on_a_missing_image_names_instances(tmp_path):
    root = copy_fixture("refcocog", tmp_path)
    path = root / "refcocog" / "instances.json"
    doc = json.loads(path.read_text())
    first = fixture_refs()[0]["image_id"]
    doc["images"] = [im for im in doc["images"] if im["id"] != first]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=f"no image with id {first}"):
        samples("refcocog", root)


def test_refcocog_no_refs_in_split_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no refs in split 'nonexistent'"):
        samples("refcocog", FIXTURES, split="nonexistent")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _nested(depth: int) -> bytes:
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


HOSTILE_PICKLES = {
    "reduce-os-system": pickle.dumps([_Evil()], protocol=2),
    "global-protocol-0": b"cos\nsystem\n(S'echo pwned'\ntR.",
    "inst": b"(S'echo pwned'\nios\nsystem\n.",
    "obj-on-a-plain-value": b"\x80\x02(S'x'\no.",
    "build-on-a-dict": b"\x80\x02}}b.",
    "persistent-id": b"\x80\x02X\x03\x00\x00\x00pidQ.",
    "set": pickle.dumps([{1, 2}], protocol=4),
    "huge-binunicode8": b"\x80\x04\x8d" + (2**62).to_bytes(8, "little") + b"ab.",
    "huge-binbytes": b"\x80\x03B\xff\xff\xff\x7fab.",
    "truncated": pickle.dumps(fixture_refs(), protocol=2)[:-40],
    "empty": b"",
    "json-not-pickle": b'[{"ref_id": 1}]',
    "memo-get-unknown": b"\x80\x02h\x07.",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PICKLES))
def test_hostile_refs_pickle_is_refused_without_running_anything(tmp_path, name, capfd):
    root = refcocog_with_refs(tmp_path, HOSTILE_PICKLES[name])
    with pytest.raises(DataError) as exc:
        samples("refcocog", root)
    assert exc.value.path.name == "refs(umd).p"
    assert "pwned" not in capfd.readouterr().out


def test_deeply_nested_pickle_is_refused_or_loaded_without_crashing(tmp_path):
    root = refcocog_with_refs(tmp_path, _nested(200_000))
    with pytest.raises(DataError, match="not a list of refs|ref #0"):
        samples("refcocog", root)


def test_cli_score_with_a_hostile_refs_pickle_exits_2(tmp_path):
    root = refcocog_with_refs(tmp_path, HOSTILE_PICKLES["reduce-os-system"])
    preds = write_predictions(tmp_path / "p.jsonl", {"50": "a dog"})
    res = cli("score", "--task", "refcocog", "--predictions", str(preds), "--data-root", str(root))
    assert_clean_exit_2(res, "refs(umd).p", "refused", "posix.system")


# ---- FID ---------------------------------------------------------------------------------------
def test_fid_annotation_with_string_ids_is_located(tmp_path):
    root = copy_fixture("fid_coco", tmp_path)
    path = root / "fid_coco" / "captions.json"
    doc = json.loads(path.read_text())
    doc["annotations"][2]["image_id"] = str(doc["annotations"][2]["image_id"])
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"annotations\[2\]: 'id' and 'image_id' must be integers"):
        samples("fid_coco", root)


def test_fid_generated_image_that_is_corrupt_is_a_per_sample_error(tmp_path):
    ids = [s.id for s in samples("fid_coco", FIXTURES)]
    gen = tmp_path / "gen"
    gen.mkdir()
    for i, sid in enumerate(ids):
        png(gen / f"{sid}.png", (40 * i, 20, 20))
    (gen / f"{ids[0]}.png").write_bytes(b"")
    shutil.copy(gen / f"{ids[1]}.png", gen / "spare.png")
    preds = write_predictions(tmp_path / "p.jsonl", {sid: str(gen / f"{sid}.png") for sid in ids})
    result, _, _ = score_file("fid_coco", preds, FIXTURES, {"extractor": "pixels"})
    errors = {r["id"]: r.get("error") for r in result.records}
    assert "cannot decode" in errors[ids[0]] and all(errors[s] is None for s in ids[1:])


# ---- files with nothing in them ----------------------------------------------------------------
def _empty_pope(root: Path) -> None:
    (root / "pope" / "coco_pope_random.json").write_bytes(b"\n\n")


def _empty_mmvp(root: Path) -> None:
    (root / "mmvp" / "Questions.csv").write_text(MMVP_HEAD + "\n\n")


def _empty_json_list(folder: str, file: str, key: str):
    def edit(root: Path) -> None:
        path = root / folder / file
        doc = json.loads(path.read_text())
        doc[key] = []
        path.write_text(json.dumps(doc))

    return edit


@pytest.mark.parametrize(
    "task, folder, file, edit, message",
    [
        ("pope_random", "pope", "coco_pope_random.json", _empty_pope, "holds no questions"),
        ("mmvp", "mmvp", "Questions.csv", _empty_mmvp, "holds no questions"),
        ("vqav2", "vqav2", "questions.json", _empty_json_list("vqav2", "questions.json", "questions"),
         "holds no questions"),
        ("rvqa_a", "robustvqa", "robustvqa_test.json",
         _empty_json_list("robustvqa", "robustvqa_test.json", "imagenet_a"), "'imagenet_a' is an empty list"),
        ("fid_coco", "fid_coco", "captions.json", _empty_json_list("fid_coco", "captions.json", "annotations"),
         "no image has a caption"),
    ],
)
def test_a_data_file_with_no_samples_is_an_error_not_an_empty_result(tmp_path, task, folder, file, edit, message):
    root = copy_fixture(folder, tmp_path)
    edit(root)
    with pytest.raises(DataError, match=message) as exc:
        samples(task, root)
    assert exc.value.path.name == file


# ---- POPE parquet ------------------------------------------------------------------------------
def test_pope_corrupt_parquet_is_a_data_error_naming_it(tmp_path):
    root = tmp_path / "root"
    (root / "pope").mkdir(parents=True)
    (root / "pope" / "test-00000.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(DataError, match="not a readable parquet file") as exc:
        samples("pope_random", root)
    assert exc.value.path.name == "test-00000.parquet"


# ---- decompression bombs -----------------------------------------------------------------------
def test_image_declaring_a_huge_size_is_a_sample_error(tmp_path):
    import struct
    import zlib

    data = bytearray(png(tmp_path / "small.png").read_bytes())
    data[16:24] = struct.pack(">II", 30_000, 30_000)  # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bytes(data))
    with pytest.raises(SampleError, match="bomb.png"):
        ImageRef(key="bomb.png", path=bomb).load()
