import json
import random
from collections import Counter

import pytest
import torch

from deem_eval.errors import DataError
from deem_model.data import StageData, conversations, read_jsonl, region_mask


def test_malformed_lines_name_file_and_line(tmp_path):
    f = tmp_path / "instruct.jsonl"
    f.write_text('{"image": "a.png", "question": "q", "answer": "yes"}\n{"image": "b.png"\n')
    with pytest.raises(DataError, match="instruct.jsonl, line 2: invalid JSON"):
        read_jsonl(f, ("image", "question", "answer"))
    f.write_text('{"image": "a.png", "question": "q"}\n')
    with pytest.raises(DataError, match="line 1: missing keys \\['answer'\\]"):
        read_jsonl(f, ("image", "question", "answer"))
    with pytest.raises(DataError, match="not found"):
        read_jsonl(tmp_path / "none.jsonl", ("image",))


def test_batches_depend_only_on_seed_and_step(make_model, world_dir):
    model = make_model()
    a = StageData("2", world_dir, model, 4, seed=3)
    b = StageData("2", world_dir, model, 4, seed=3)
    b.batch(5)  # visiting other steps first changes nothing
    for k, v in a.batch(2).items():
        assert torch.equal(v, b.batch(2)[k])
    # one epoch (24 records, batch 4) visits every record exactly once
    seen = sorted(i for step in range(6) for i in a.sampler.indices(step))
    assert seen == list(range(24))


def test_stage1_layouts_and_labels(make_model, world_dir):
    model = make_model()
    ids = model.ids
    n = model.cfg.num_image_tokens
    data = StageData("1", world_dir, model, 8, seed=0, image_first_prob=0.5)
    batch = data.batch(0)
    for row, lab in zip(batch["input_ids"].tolist(), batch["labels"].tolist(), strict=True):
        soi = row.index(ids["soi"])
        assert row[soi + 1: soi + 1 + n] == [ids["image"]] * n
        assert all(lab[k] == -100 for k in range(soi + 1, soi + 1 + n))  # no loss on placeholders
        if soi == 1:  # image first: the text after it is the target
            assert lab[soi + 1 + n] == row[soi + 1 + n]
        else:  # text first: the model learns to emit SoI where the image goes
            assert lab[soi] == ids["soi"]


def test_region_mask_from_polygon_and_box():
    row = {"bbox": [2, 3, 4, 2], "polygon": []}
    m = region_mask(row, (8, 8), 8)
    assert m.shape == (1, 8, 8) and m.sum() == 8 and m[0, 3, 2] == 1 and m[0, 5, 2] == 0
    tri = {"bbox": [0, 0, 8, 8], "polygon": [[0, 0, 7, 0, 0, 7]]}
    assert 0 < region_mask(tri, (8, 8), 8).sum() < 64


def test_corrupt_image_is_an_error_not_a_swap(make_model, world_dir, tmp_path):
    import shutil

    root = tmp_path / "w"
    shutil.copytree(world_dir, root)
    (root / "train" / "images" / "00000.png").write_bytes(b"not a png")
    data = StageData("clip", root, make_model(), 24, seed=0)
    with pytest.raises(DataError, match="00000.png: cannot decode image"):
        data.batch(0)
    rows = [json.loads(x) for x in (root / "train" / "captions.jsonl").read_text().splitlines()]
    rows[1]["image"] = "../../escape.png"
    (root / "train" / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = StageData("clip", root, make_model(), 24, seed=0)
    with pytest.raises(DataError, match="escapes the data root"):
        data.images.get(rows[1]["image"])


def test_conversations_group_every_turn_by_image_in_first_seen_order():
    rows = [{"image": "b.png", "question": "q1", "answer": "yes"}, {"image": "a.png", "question": "q2", "answer": "2"},
            {"image": "b.png", "question": "q3", "answer": "no"}]
    assert conversations(rows) == [{"image": "b.png", "turns": [rows[0], rows[2]]},
                                   {"image": "a.png", "turns": [rows[1]]}]


def _answers(model, labels):
    """The labelled token runs of one row, split at each EOS."""
    out, cur = [], []
    for t in labels:
        if t == -100:
            continue
        cur.append(t)
        if t == model.ids["eos"]:
            out.append(model.tokenizer.decode(cur[:-1]).strip())
            cur = []
    return out


def test_stage2_rows_are_whole_conversations_with_one_image(make_model, world_dir):
    model = make_model()
    data = StageData("2", world_dir, model, 4, seed=0)
    batch = data.batch(0)
    for k, (row, lab) in enumerate(zip(batch["input_ids"].tolist(), batch["labels"].tolist(), strict=True)):
        conv = data.rows[data.sampler.indices(0)[k]]
        assert row.count(model.ids["soi"]) == 1  # the image once, at the start
        answers = _answers(model, lab)
        expected = sorted(str(t["answer"]).strip().lower() for t in conv["turns"])
        assert answers and not Counter(answers) - Counter(expected)  # whole answers, each turn at most once
        assert len(row) <= model.cfg.tokenizer.max_length


def test_lm_stage_reads_descriptions_where_the_image_goes(make_model, world_dir):
    model = make_model()
    data = StageData("lm", world_dir, model, 4, seed=0)
    reading = [i for i, r in enumerate(data.rows) if "description" in r]
    assert reading and all("turns" in data.rows[i] for i in reading)
    conv = data.rows[reading[0]]
    seq, lab = data._conversation(conv["turns"], random.Random(0), conv["description"] + " ")
    assert model.ids["soi"] not in seq and model.ids["image"] not in seq
    text = model.tokenizer.decode(seq)
    assert conv["description"].lower().rstrip(".") in text.lower()
    assert sorted(_answers(model, lab)) == sorted(str(t["answer"]).strip().lower() for t in conv["turns"])


def test_stage2_curriculum_first_trains_single_matching_questions(make_model, world_dir, tmp_path):
    import shutil

    root = tmp_path / "world"
    shutil.copytree(world_dir, root)
    rows = read_jsonl(root / "train" / "instruct.jsonl", ("image", "question", "answer"))
    with (root / "train" / "instruct.jsonl").open("a") as fh:
        for r in rows:
            fh.write(json.dumps({"image": r["image"], "question": "What is the background?", "answer": "grey"}) + "\n")
    model = make_model()
    data = StageData("2", root, model, 4, seed=0, curriculum_steps=3, curriculum_match=r"^Is there an? ")
    data.micro_per_step = 2  # e.g. two accumulation micro-batches per optimiser step: 6 curriculum micro-batches
    for k in range(8):
        batch = data.batch(k)
        per_row = [_answers(model, lab) for lab in batch["labels"].tolist()]
        if k < 6:
            assert all(len(a) == 1 and a[0] in ("yes", "no") for a in per_row), (k, per_row)
        else:  # whole conversations: both questions about the image
            assert all(sorted(a) in (sorted(["grey", "yes"]), sorted(["grey", "no"])) for a in per_row), (k, per_row)
    # the conversation order starts at its own first batch, as without a curriculum
    plain = StageData("2", root, model, 4, seed=0)
    assert torch.equal(plain.batch(0)["pixel_values"], data.batch(6)["pixel_values"])


@pytest.mark.parametrize("stage, pattern, message", [
    ("2", "^(unclosed", "is not a regular expression"),
    ("2", "^Nothing matches", "no question matches"),
    ("1", "^Is there", "curriculum_steps is set for stage 1"),
])
def test_bad_curriculum_is_a_clear_error(make_model, world_dir, stage, pattern, message):
    with pytest.raises(DataError, match=message):
        StageData(stage, world_dir, make_model(), 4, seed=0, curriculum_steps=2, curriculum_match=pattern)


def test_a_stage_reads_the_corpus_its_config_names(make_model, world_dir, tmp_path):
    """``StageConfig.data`` picks the file: the clip stage on the full descriptions (t2i.jsonl)."""
    import shutil

    root = tmp_path / "w"
    shutil.copytree(world_dir, root, symlinks=True)
    train = root / "train"
    default = StageData("clip", root, make_model(), 4, seed=0)
    other = StageData("clip", root, make_model(), 4, seed=0, corpus="t2i.jsonl")
    assert [r["caption"] for r in default.rows] == [r["caption"] for r in read_jsonl(train / "captions.jsonl", ())]
    assert [r["caption"] for r in other.rows] == [r["caption"] for r in read_jsonl(train / "t2i.jsonl", ())]
    assert default.rows != other.rows
    (train / "mine.jsonl").write_text(json.dumps({"image": other.rows[0]["image"]}) + "\n")
    with pytest.raises(DataError, match=r"mine\.jsonl.*line 1.*caption"):
        StageData("clip", root, make_model(), 4, seed=0, corpus="mine.jsonl")
