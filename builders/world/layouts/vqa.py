"""VQAv2-style folders (``vqav2/``, ``okvqa/``, ``vizwiz/``): questions.json + annotations.json.

Ten annotator answers per question (variants the official normalisation merges, synonyms it does
not, and a little noise). OK-VQA asks about world knowledge of the pictured object; VizWiz has
low-quality photos and some unanswerable questions.
"""

from __future__ import annotations

from .. import scene as S
from ..catalog import BY_NAME
from ..context import Context
from ..files import write_json
from ..questions import consensus, ten_answers, vqa_questions

IMAGE_ID0 = {"vqav2": 200000, "okvqa": 210000, "vizwiz": 220000}
SUBTYPE = "val2014"


def _write(ctx: Context, name: str, questions: list[dict], annotations: list[dict]) -> None:
    head = {"info": {"description": f"{name} (synthetic world)", "version": "1.0"},
            "license": {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "data_subtype": SUBTYPE}
    write_json(ctx.out / name / "questions.json",
               {**head, "task_type": "Open-Ended", "data_type": "mscoco", "questions": questions})
    write_json(ctx.out / name / "annotations.json", {**head, "data_type": "mscoco", "annotations": annotations})


def _add(ctx, name, image_id, q, questions, annotations, answers):
    qid = image_id * 1000 + len([x for x in questions if x["image_id"] == image_id])
    questions.append({"image_id": image_id, "question": q["question"], "question_id": qid})
    annotations.append({"question_id": qid, "image_id": image_id, "question_type": q["question_type"],
                        "answer_type": q["answer_type"], "multiple_choice_answer": consensus(answers),
                        "answers": answers})
    return qid


def _image_name(image_id: int) -> str:
    return f"images/COCO_{SUBTYPE}_{image_id:012d}.jpg"


def build_vqav2(ctx: Context) -> dict:
    questions, annotations = [], []
    for i in range(ctx.cfg["vqav2"]):
        rng = ctx.rng("vqav2", i)
        sc = S.random_scene(rng, k_range=(1, 3), count_range=(1, 4))
        image_id = IMAGE_ID0["vqav2"] + i
        rel = f"vqav2/{_image_name(image_id)}"
        checked = []
        for q in vqa_questions(sc, ctx.rng("vqav2-questions", i), 3):
            alts = BY_NAME[q["answer"]].synonyms if q["answer"] in BY_NAME else ()
            answers = ten_answers(q["answer"], ctx.rng(f"vqav2-answers-{len(questions)}", i), alts)
            qid = _add(ctx, "vqav2", image_id, q, questions, annotations, answers)
            checked.append({"question_id": qid, "kind": q["kind"], "category": q["category"], "answer": q["answer"]})
        ctx.image("vqav2", rel, sc, questions=checked)
    _write(ctx, "vqav2", questions, annotations)
    return {"vqav2": len(questions)}


def build_okvqa(ctx: Context) -> dict:
    questions, annotations = [], []
    for i in range(ctx.cfg["okvqa"]):
        rng = ctx.rng("okvqa", i)
        sc = S.random_scene(rng, k_range=(1, 1), count_range=(1, 2))
        cat = BY_NAME[sc["objects"][0]["category"]]
        image_id = IMAGE_ID0["okvqa"] + i
        q = {"question": cat.knowledge_q, "answer": cat.knowledge_a[0], "answer_type": "other",
             "question_type": "other"}
        answers = ten_answers(q["answer"], ctx.rng("okvqa-answers", i), cat.knowledge_a[1:], noise=0.15)
        qid = _add(ctx, "okvqa", image_id, q, questions, annotations, answers)
        ctx.image("okvqa", f"okvqa/{_image_name(image_id)}", sc,
                  questions=[{"question_id": qid, "category": cat.name, "answer": q["answer"]}])
    _write(ctx, "okvqa", questions, annotations)
    return {"okvqa": len(questions)}


def build_vizwiz(ctx: Context) -> dict:
    questions, annotations = [], []
    for i in range(ctx.cfg["vizwiz"]):
        rng = ctx.rng("vizwiz", i)
        sc = S.random_scene(rng, k_range=(1, 1), count_range=(1, 1))
        obj = sc["objects"][0]
        unusable = rng.random() < 0.25
        sc["effects"] = ({"blur": 4.0, "brightness": 0.45, "noise": 10.0} if unusable else
                         {"blur": round(float(rng.uniform(0.3, 1.0)), 2),
                          "brightness": round(float(rng.uniform(0.7, 1.2)), 2), "noise": 6.0})
        kind = ["what", "colour", "is_it"][i % 3]
        if unusable:
            q = {"question": "What is this?", "answer": "unanswerable", "answer_type": "unanswerable",
                 "question_type": "other"}
            alts = ("unsuitable", "unsuitable image")
        elif kind == "what":
            q = {"question": "What is this?", "answer": obj["category"], "answer_type": "other",
                 "question_type": "other"}
            alts = BY_NAME[obj["category"]].synonyms
        elif kind == "colour":
            q = {"question": "What color is this?", "answer": obj["colour"], "answer_type": "other",
                 "question_type": "other"}
            alts = ()
        else:
            asked = obj["category"] if rng.random() < 0.5 else [
                c for c in S.SCENE_BY_NAME[BY_NAME[obj["category"]].scene].members if c != obj["category"]][0]
            q = {"question": f"Is this {'an' if asked[0] in 'aeiou' else 'a'} {asked}?",
                 "answer": "yes" if asked == obj["category"] else "no", "answer_type": "yes/no",
                 "question_type": "other"}
            alts = ()
        image_id = IMAGE_ID0["vizwiz"] + i
        answers = ten_answers(q["answer"], ctx.rng("vizwiz-answers", i), alts, noise=0.12)
        qid = _add(ctx, "vizwiz", image_id, q, questions, annotations, answers)
        ctx.image("vizwiz", f"vizwiz/{_image_name(image_id)}", sc,
                  questions=[{"question_id": qid, "kind": "unanswerable" if unusable else kind,
                              "answer": q["answer"]}])
    _write(ctx, "vizwiz", questions, annotations)
    return {"vizwiz": len(questions)}
