"""Each benchmark loader on a small file written here in the benchmark's official format; scored
with hand-picked replies through the task's own parse/score rules."""

import base64
import io
import json

import pytest
from PIL import Image

from vlmkit.eval.scoring import score_replies
from vlmkit.eval.tasks import build_task


def png(path=None, color=(255, 0, 0)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
    return buf.getvalue()


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_vqav2_and_okvqa(tmp_path):
    for image_id in (1, 2):
        png(tmp_path / "val2014" / f"COCO_val2014_{image_id:012d}.jpg")
    q = write_json(tmp_path / "q.json", {"data_subtype": "val2014", "questions": [
        {"image_id": 1, "question": "What color?", "question_id": 10},
        {"image_id": 2, "question": "How many?", "question_id": 20},
        {"image_id": 3, "question": "Missing image?", "question_id": 30},
    ]})
    answers = lambda xs: [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(xs)]
    a = write_json(tmp_path / "a.json", {"annotations": [
        {"question_id": 10, "image_id": 1, "answers": answers(["red"] * 3 + ["blue"] * 7), "multiple_choice_answer": "blue"},
        {"question_id": 20, "image_id": 2, "answers": answers(["2"] * 10), "multiple_choice_answer": "2"},
        {"question_id": 30, "image_id": 3, "answers": answers(["x"] * 10), "multiple_choice_answer": "x"},
    ]})
    for name in ("vqav2", "okvqa"):
        task = build_task(name, {"questions": q, "annotations": a, "images": tmp_path / "val2014"})
        examples = task.examples()
        assert [e.id for e in examples] == [10, 20] and task.skipped == {"missing_image": 1}
        assert examples[0].prompt == "What color?\nAnswer the question using a single word or phrase."
        assert examples[0].answer == "blue"
        # "Red." -> EvalAI processing -> "red" (0.9); "Two" -> "2" (1.0)
        preds, scores = score_replies(task, examples, ["Red.", "Two"])
        assert [p.score for p in preds] == pytest.approx([0.9, 1.0])
        assert scores["accuracy"] == pytest.approx(0.95)
    unlabelled = build_task("vqav2", {"questions": q, "images": tmp_path / "val2014"})
    assert score_replies(unlabelled, unlabelled.examples(), ["a", "b"])[1] == {}


def test_vizwiz_textvqa_gqa(tmp_path):
    png(tmp_path / "img" / "VizWiz_val_00000000.jpg")
    png(tmp_path / "img" / "abc.jpg")
    viz = write_json(tmp_path / "val.json", [
        {"image": "VizWiz_val_00000000.jpg", "question": "What is this?", "answers": [{"answer": "unanswerable", "answer_confidence": "yes"}] * 10},
    ])
    task = build_task("vizwiz", {"annotations": viz, "images": tmp_path / "img"})
    (ex,) = task.examples()
    assert "respond with 'Unanswerable'" in ex.prompt
    assert score_replies(task, [ex], ["Unanswerable"])[1]["accuracy"] == 1.0

    tv = write_json(tmp_path / "textvqa.json", {"data": [{"question_id": 7, "question": "what brand?", "image_id": "abc", "answers": ["Nokia"] * 4 + ["nokia phone"] * 6}]})
    task = build_task("textvqa", {"annotations": tv, "images": tmp_path / "img"})
    (ex,) = task.examples()
    assert ex.answer == "nokia phone"
    assert score_replies(task, [ex], ["NOKIA"])[1]["accuracy"] == 1.0

    gqa = write_json(tmp_path / "gqa.json", {"201": {"imageId": "abc", "question": "Is it red?", "answer": "yes"}})
    task = build_task("gqa", {"questions": gqa, "images": tmp_path / "img"})
    examples = task.examples()
    assert [p.score for p in score_replies(task, examples, ["Yes."])[0]] == [1.0]
    assert [p.score for p in score_replies(task, examples, ["Yes, it is"])[0]] == [0.0]


def test_pope_folder_of_categories(tmp_path):
    png(tmp_path / "val2014" / "a.jpg")
    for cat, label in (("random", "yes"), ("adversarial", "no")):
        lines = [json.dumps({"question_id": i, "image": "a.jpg", "text": "Is there a dog in the image?", "label": label}) for i in range(2)]
        (tmp_path / "pope").mkdir(exist_ok=True)
        (tmp_path / "pope" / f"coco_pope_{cat}.json").write_text("\n".join(lines + ["not json"]) + "\n")
    task = build_task("pope", {"annotations": tmp_path / "pope", "images": tmp_path / "val2014"})
    examples = task.examples()
    assert len(examples) == 4 and task.skipped == {"bad_json_line": 2}
    cats = [e.meta["category"] for e in examples]
    replies = ["No, there is not." if c == "adversarial" else "Yes" for c in cats]
    replies[cats.index("random")] = "No"  # one random/yes question answered wrong
    _, scores = score_replies(task, examples, replies)
    assert scores["adversarial/accuracy"] == 1.0 and scores["random/accuracy"] == 0.5
    assert scores["random/recall"] == 0.5 and scores["accuracy"] == pytest.approx(0.75)


def test_mme_both_layouts(tmp_path):
    root = tmp_path / "MME"
    png(root / "existence" / "x.jpg")
    (root / "existence" / "x.txt").write_text("Is there a cat? Please answer yes or no.\tYes\nIs there a dog? Please answer yes or no.\tNo\n")
    png(root / "artwork" / "images" / "y.png")
    (root / "artwork" / "questions_answers_YN").mkdir(parents=True)
    (root / "artwork" / "questions_answers_YN" / "y.txt").write_text("Is this by Monet?\tYes\nIs this by Picasso?\tNo\n")
    (root / "code_reasoning").mkdir()
    (root / "code_reasoning" / "z.txt").write_text("Does it print 1?\tYes\n")  # no image
    task = build_task("mme", {"root": root})
    examples = task.examples()
    assert len(examples) == 4 and task.skipped["missing_image"] == 1
    replies = {"existence": ["Yes", "No"], "artwork": ["Yes", "Yes"]}
    texts = [replies[e.meta["category"]].pop(0) for e in examples]
    _, scores = score_replies(task, examples, texts)
    assert scores["existence/score"] == 200.0 and scores["artwork/score"] == 50.0
    assert scores["perception"] == 250.0 and scores["cognition"] == 0.0


def test_scienceqa_img_subset(tmp_path):
    root = tmp_path / "sqa"
    write_json(root / "problems.json", {
        "1": {"question": "Which is a mammal?", "choices": ["shark", "whale"], "answer": 1, "hint": "Look closely.", "image": "image.png", "split": "test"},
        "2": {"question": "Text only?", "choices": ["a", "b"], "answer": 0, "hint": "", "image": None, "split": "test"},
    })
    write_json(root / "pid_splits.json", {"test": ["1", "2"], "train": []})
    png(root / "images" / "test" / "1" / "image.png")
    task = build_task("scienceqa_img", {"root": root})
    (ex,) = task.examples()
    assert ex.prompt == "Context: Look closely.\nWhich is a mammal?\nA. shark\nB. whale\nAnswer with the option's letter from the given choices directly."
    assert ex.answer == "B"
    assert [p.score for p in score_replies(task, [ex, ex, ex], ["B", "The answer is B.", "C"])[0]] == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="split 'val'"):
        build_task("scienceqa_img", {"root": root, "split": "val"}).examples()


def test_seed_image_questions_only(tmp_path):
    png(tmp_path / "seed" / "1.jpg")
    q = lambda i, dtype, ans: {"question_id": str(i), "question": "What is shown?", "choice_a": "cat", "choice_b": "dog", "choice_c": "cow", "choice_d": "hen",
                                "answer": ans, "data_id": "1.jpg", "data_type": dtype, "question_type_id": 1}
    ann = write_json(tmp_path / "SEED-Bench.json", {"questions": [q(1, "image", "B"), q(2, "video", "A"), q(3, "image", "C")], "question_type": {"Scene Understanding": 1}})
    task = build_task("seed", {"annotations": ann, "images": tmp_path / "seed"})
    examples = task.examples()
    assert [e.id for e in examples] == ["1", "3"]
    _, scores = score_replies(task, examples, ["B", "C."])
    assert scores == {"accuracy": 0.5, "Scene Understanding/accuracy": 0.5}


def test_mmbench_tsv_circular(tmp_path):
    img = base64.b64encode(png()).decode()
    tsv = tmp_path / "mmbench_dev.tsv"
    rows = [
        ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source", "l2-category", "comment", "split"],
        ["0", "What color?", "nan", "red", "green", "blue", "nan", "A", "color", img, "s", "l2", "nan", "dev"],
        ["1", "Which shape?", "A hint", "circle", "square", "nan", "nan", "B", "shape", "0", "s", "l2", "nan", "dev"],
    ]
    tsv.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    task = build_task("mmbench", {"annotations": tsv})
    examples = task.examples()
    assert [e.id for e in examples] == ["0/0", "0/1", "0/2", "1/0", "1/1"]
    assert [e.target for e in examples] == ["A", "C", "B", "B", "A"]  # the right option moves with each rotation
    assert examples[3].prompt.startswith("A hint\nWhich shape?\nA. circle\nB. square\n")
    assert examples[3].images[0]() == png()  # row 1's image points at row 0's
    # question 0 right in every rotation (letter, text); question 1 wrong once
    _, scores = score_replies(task, examples, ["A", "(C) red", "red", "square", "B"])
    assert scores == {"circular_accuracy": 0.5, "accuracy": pytest.approx(0.8)}
    cn = build_task("mmbench_cn", {"annotations": tsv, "circular": False}).examples()
    assert len(cn) == 2 and cn[0].prompt.endswith("请直接回答选项字母。")


def test_captions_coco_and_karpathy(tmp_path):
    png(tmp_path / "img" / "a.jpg")
    png(tmp_path / "img" / "val2014" / "b.jpg")
    coco = write_json(tmp_path / "captions_val2014.json", {
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [{"image_id": 1, "caption": "A red square."}, {"image_id": 1, "caption": "a red box"}],
    })
    task = build_task("coco_caption", {"annotations": coco, "images": tmp_path / "img"})
    (ex,) = task.examples()
    assert ex.target == ["A red square.", "a red box"]
    karpathy = write_json(tmp_path / "dataset_coco.json", {"images": [
        {"filepath": "val2014", "filename": "b.jpg", "split": "test", "cocoid": 5, "sentences": [{"raw": "A blue dot."}]},
        {"filepath": "val2014", "filename": "c.jpg", "split": "train", "cocoid": 6, "sentences": [{"raw": "x"}]},
    ]})
    task = build_task("coco_caption", {"annotations": karpathy, "images": tmp_path / "img"})
    examples = task.examples() + [ex]
    preds, scores = score_replies(task, examples, ["a blue dot\nextra line", "nothing alike"])
    assert preds[0].parsed == "a blue dot"
    assert preds[0].score > 0 and preds[1].score == 0.0
    assert scores["cider"] == pytest.approx((preds[0].score + preds[1].score) / 2)


def test_mmlu_csv_and_dev_support(tmp_path):
    for split, rows in (("test", ["What is 2+2?,3,4,5,6,B", "bad row"]), ("dev", ["What is 1+1?,2,3,4,5,A"])):
        (tmp_path / split).mkdir()
        (tmp_path / split / f"elementary_math_{split}.csv").write_text("\n".join(rows) + "\n")
    task = build_task("mmlu", {"root": tmp_path})
    (ex,) = task.examples()
    assert task.skipped == {"bad_row": 1}
    assert ex.prompt == "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:" and ex.options == [" A", " B", " C", " D"]
    assert task.preamble(ex).startswith("The following are multiple choice questions (with answers) about elementary math.")
    (shot,) = task.support()
    assert shot.answer == " A"
    assert score_replies(task, [ex], [" B"])[1]["accuracy"] == 1.0


def test_option_errors(tmp_path):
    with pytest.raises(ValueError, match="has no option 'question'"):
        build_task("vqav2", {"question": "x"})
    with pytest.raises(ValueError, match="needs the option 'questions'"):
        build_task("vqav2", {}).examples()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_task("gqa", {"questions": tmp_path / "nope.json", "images": tmp_path}).examples()
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        build_task("gqa", {"questions": tmp_path / "bad.json", "images": tmp_path}).examples()
    with pytest.raises(ValueError, match="no support split"):
        build_task("gqa", {}).support()
