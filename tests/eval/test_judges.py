"""Judges against a local HTTP stub on 127.0.0.1 (started here): the OpenAI-compatible client's
request, its bounded retries on rate limits, timeouts and garbage, the key never leaking; and the
LLaVA-Bench / MM-Vet tasks with their official prompts, score parsing and failure counts."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from vlmkit.eval.judges import JudgeError, build_judge
from vlmkit.eval.scoring import score_replies
from vlmkit.eval.tasks import build_task
from vlmkit.eval.tasks.llava_bench import SYSTEM, parse_review
from vlmkit.eval.tasks.mm_vet import RETRY_SUFFIX, parse_correctness

KEY = "sk-test-very-secret-0123456789"


class Stub:
    """Scripted judge endpoint: each request takes the next action (the last one repeats).
    Actions: ``("reply", text)``, ``("garbage",)``, ``("status", code)``, ``("sleep", seconds)``."""

    def __init__(self) -> None:
        self.script: list[tuple] = [("reply", "ok")]
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                action = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                if action[0] == "sleep":
                    time.sleep(action[1])
                    return  # the client timed out and hung up: nothing to send
                if action[0] == "status":
                    self.send_response(action[1])
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                payload = b"<html>oops</html>" if action[0] == "garbage" else json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": action[1]}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def server():
    stub = Stub()
    yield stub
    stub.server.shutdown()


@pytest.fixture
def stub(server, monkeypatch):
    server.script, server.requests = [("reply", "ok")], []
    monkeypatch.setenv("VLMKIT_JUDGE_BASE_URL", server.url)
    monkeypatch.setenv("VLMKIT_JUDGE_MODEL", "judge-model")
    monkeypatch.setenv("VLMKIT_JUDGE_API_KEY", KEY)
    return server


FAST = {"backoff": 0.0, "max_retries": 2}


def test_a_chat_completion_request_carries_the_key_only_in_its_header(stub, caplog):
    caplog.set_level(logging.DEBUG)
    stub.script = [("status", 429), ("reply", "8 9")]
    judge = build_judge("openai", **FAST)
    assert judge.complete("How good?", system="Be fair.", temperature=0.2, max_tokens=7) == "8 9"
    first = stub.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == f"Bearer {KEY}"
    assert first["body"] == {"model": "judge-model", "temperature": 0.2, "max_tokens": 7,
                             "messages": [{"role": "system", "content": "Be fair."}, {"role": "user", "content": "How good?"}]}
    assert len(stub.requests) == 2 and "retry 1 of 2" in caplog.text
    assert KEY not in caplog.text and KEY not in repr(judge)


@pytest.mark.parametrize(
    ("action", "kind"),
    [(("status", 429), "rate_limited"), (("status", 503), "http_error"), (("garbage",), "malformed"), (("sleep", 0.6), "timeout")],
)
def test_retries_are_bounded_and_the_failure_is_named(stub, action, kind):
    stub.script = [action]
    judge = build_judge("openai", timeout=0.2, **FAST)
    with pytest.raises(JudgeError) as err:
        judge.complete("x")
    assert err.value.reason == kind and "after 3 attempts" in str(err.value) and KEY not in str(err.value)
    assert len(stub.requests) == 3  # the first try and max_retries=2 more


def test_a_refused_request_is_not_retried(stub):
    stub.script = [("status", 401)]
    with pytest.raises(JudgeError, match="HTTP 401"):
        build_judge("openai", **FAST).complete("x")
    assert len(stub.requests) == 1


def test_the_judge_needs_a_model(monkeypatch):
    monkeypatch.delenv("VLMKIT_JUDGE_MODEL", raising=False)
    with pytest.raises(ValueError, match="set VLMKIT_JUDGE_MODEL"):
        build_judge("openai")


def images(tmp_path, names):
    for name in names:
        Image.new("RGB", (8, 8), (0, 128, 255)).save(tmp_path / name)
    return tmp_path


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_llava_bench_asks_with_the_official_review_and_averages_relative_scores(stub, tmp_path):
    questions = [{"question_id": i, "image": f"{i}.png", "text": f"Q{i}?", "category": c}
                 for i, c in enumerate(["conv", "conv", "detail", "complex"])]
    task = build_task("llava_bench", {
        "questions": jsonl(tmp_path / "questions.jsonl", questions),
        "answers": jsonl(tmp_path / "answers_gpt4.jsonl", [{"question_id": q["question_id"], "text": f"ref {q['question_id']}"} for q in questions]),
        "context": jsonl(tmp_path / "context.jsonl", [{"image": q["image"], "caption": f"cap {q['question_id']}"} for q in questions]),
        "images": images(tmp_path, [q["image"] for q in questions]), "judge_options": FAST,
    })
    stub.script = [("reply", "8 6\nAssistant 2 is vaguer."), ("reply", "10 5\n..."), ("reply", "8, 9\n..."), ("status", 429)]
    examples = task.examples()
    predictions, scores = score_replies(task, examples, ["a", "b", "c", "d"])
    sent = stub.requests[0]["body"]
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM} and sent["temperature"] == 0.2 and sent["max_tokens"] == 1024
    assert sent["messages"][1]["content"].startswith("[Context]\ncap 0\n\n[Question]\nQ0?\n\n[Assistant 1]\nref 0\n\n[End of Assistant 1]\n\n[Assistant 2]\na\n\n")
    # "8, 9" is unreadable by LLaVA's parse_score; the 429s exhaust the retries: both counted, not zero
    assert scores["conv/relative_score"] == pytest.approx(100 * 5.5 / 9) and scores["relative_score"] == pytest.approx(100 * 5.5 / 9)
    assert scores["conv/model_score"] == pytest.approx(55.0) and "detail/relative_score" not in scores
    assert scores["judged"] == 2 and scores["judge_failures"] == 2
    assert task.skipped == {"judge_unparsable": 1, "judge_rate_limited": 1}
    assert predictions[0].parsed["review"].startswith("8 6") and predictions[2].score is None


def mm_vet(tmp_path, n):
    data = {f"v1_{i}": {"imagename": f"v1_{i}.png", "question": f"What is {i}?", "answer": "-1<AND>-5",
                        "capability": ["math", "ocr"] if i % 2 else ["rec"]} for i in range(n)}
    (tmp_path / "mm-vet.json").write_text(json.dumps(data))
    return {"annotations": tmp_path / "mm-vet.json", "images": images(tmp_path, [d["imagename"] for d in data.values()])}


def test_mm_vet_grades_with_the_few_shot_table_and_reasks_unreadable_grades(stub, tmp_path):
    task = build_task("mm_vet", {**mm_vet(tmp_path, 4), "judge_options": FAST})
    stub.script = [("reply", "1.0"), *[("reply", "yes")] * 5, *[("garbage",)] * 3, ("reply", "0.4 since")]
    predictions, scores = score_replies(task, task.examples(), ["x = -1 or x = -5", "no idea", "?", "x = -1"])
    first = stub.requests[0]["body"]
    assert first["max_tokens"] == 3 and first["temperature"] == 0.0
    assert first["messages"][0]["content"].endswith("\nWhat is 0? | -1 <AND> -5 | x = -1 or x = -5 | ")
    asks = [r["body"] for r in stub.requests[1:6]]
    assert [a["temperature"] for a in asks] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert [a["messages"][0]["content"].endswith(RETRY_SUFFIX) for a in asks] == [False, True, True, True, True]
    assert scores["total"] == pytest.approx(70.0) and scores["rec/score"] == pytest.approx(100.0)
    assert scores["math/score"] == pytest.approx(40.0)
    assert scores["judged"] == 2 and scores["judge_failures"] == 2
    assert task.skipped == {"judge_unparsable": 1, "judge_malformed": 1}
    assert predictions[1].parsed == {"reply": "yes", "tries": 5} and predictions[1].score is None
    assert task.item_values(predictions) == {"total": {"v1_0": 100.0, "v1_3": pytest.approx(40.0)}}


def test_a_judge_that_always_fails_yields_no_score_at_all(stub, tmp_path):
    task = build_task("mm_vet", {**mm_vet(tmp_path, 2), "judge_options": {**FAST, "max_retries": 0}})
    stub.script = [("status", 500)]
    _, scores = score_replies(task, task.examples(), ["a", "b"])
    assert scores == {"judged": 0.0, "judge_failures": 2.0}


@given(a=st.integers(1, 10), b=st.integers(1, 10), rest=st.text(max_size=30))
def test_llava_review_scores_are_read_from_the_first_line(a, b, rest):
    assert parse_review(f"{a} {b}\n{rest}") == (a, b)
    assert parse_review(f"{a},{b}\n{rest}") == (a, b)
    assert parse_review(f"{a}, {b}\n{rest}") is None  # split on single spaces: three parts, as in parse_score
    assert parse_review(f"Scores: {a} {b}") is None


@given(score=st.integers(0, 10), tail=st.sampled_from(["", " correct", "\n"]))
def test_mm_vet_grades_must_be_in_zero_to_one(score, tail):
    assert parse_correctness(f"{score / 10}{tail}") == pytest.approx(score / 10)
    assert parse_correctness(f"{1 + score}.5") is None and parse_correctness("yes 1.0") is None


def test_a_local_hf_model_judges_without_a_network(tmp_path):
    from tests.ecosystem.tiny_hf import save_llama
    from vlmkit.eval.judges.hf import HFJudge

    folder = str(save_llama(tmp_path / "judge"))
    judge = build_judge("hf", pretrained=folder)
    first = judge.complete("Rate: 0.5?", system="Grade.", max_tokens=4)
    assert first and first == judge.complete("Rate: 0.5?", system="Grade.", max_tokens=4)  # greedy: the same text
    task = build_task("mm_vet", {**mm_vet(tmp_path, 1), "judge": "hf", "judge_options": {"pretrained": folder}})
    assert isinstance(task.judge, HFJudge)


def test_the_harness_runs_a_judged_task_end_to_end(stub, tmp_path, tiny_vlm):
    """``evaluate``: the model's replies go to the judge; scores, intervals and judge counts come back."""
    from vlmkit.eval.harness import evaluate

    task = build_task("mm_vet", {**mm_vet(tmp_path, 3), "judge_options": FAST})
    stub.script = [("reply", "0.5")]
    result = evaluate(tiny_vlm, task, max_new_tokens=3, chat_template="chatml")
    assert result.scores["total"] == pytest.approx(50.0) and result.scores["judged"] == 3
    assert len(stub.requests) == 3 and all(" | -1 <AND> -5 | " in r["body"]["messages"][0]["content"] for r in stub.requests)


def test_judge_error_kind_still_reads_with_a_deprecation():
    err = JudgeError("timeout", "no reply")
    with pytest.warns(DeprecationWarning, match="JudgeError.reason"):
        assert err.kind == "timeout" == err.reason
