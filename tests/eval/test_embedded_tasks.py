"""The embedded tasks on the packaged assets: easy-vqa, held-out emoji captions, in-context naming."""

import pytest

from vlmkit.eval.harness import evaluate
from vlmkit.eval.images import load_image
from vlmkit.eval.prompts import PromptBuilder
from vlmkit.eval.scoring import score_replies
from vlmkit.eval.tasks import build_task


def test_easy_vqa_test_split():
    task = build_task("easy_vqa")
    examples = task.examples()
    assert len(examples) == 9673  # the package's test questions
    ex = examples[0]
    assert load_image(ex.images[0]).size == (64, 64)
    assert ex.prompt.endswith("?") and ex.answer == ex.target
    assert {e.meta["type"] for e in examples} == {"color", "shape", "yes/no"}
    sample = examples[:60]
    _, perfect = score_replies(task, sample, [f"{e.target.capitalize()}." for e in sample])
    assert perfect["accuracy"] == 1.0 and all(v == 1.0 for v in perfect.values())
    _, wrong = score_replies(task, sample, ["purple"] * len(sample))
    assert wrong["accuracy"] == 0.0
    shots = task.support()
    assert shots[0].id.startswith("train/") and len(shots) > len(examples)


def test_emoji_caption_heldout_plain_prompt(tiny_vlm):
    task = build_task("emoji_caption")
    examples = task.examples()
    train = {e.id for e in build_task("emoji_caption", {"heldout": False}).examples()}
    assert 50 < len(examples) < 400 and not train & {e.id for e in examples}
    ex = examples[0]
    assert ex.target == [f"an emoji of {ex.id}"] and load_image(ex.images[0]).size == (64, 64)
    ids, _ = PromptBuilder(tiny_vlm).encode(task, ex)
    assert tiny_vlm.tokenizer.decode([t for t in ids if t != tiny_vlm.image_token_id]) == "\n"  # pairs format
    _, gold = score_replies(task, examples, [e.target[0] for e in examples])
    _, swapped = score_replies(task, examples, [e.target[0] for e in examples[1:] + examples[:1]])
    assert gold["cider"] > swapped["cider"]
    assert build_task("emoji_caption", {"style": "chat"}).chat
    with pytest.raises(ValueError, match="style must be"):
        build_task("emoji_caption", {"style": "fancy"})


def test_fewshot_names_episodes():
    task = build_task("fewshot_names", {"episodes": 20, "ways": 3, "shots_per_way": 2, "seed": 5})
    episodes = task.examples()
    assert [e.prompt for e in episodes] == [e.prompt for e in build_task("fewshot_names", {"episodes": 20, "ways": 3, "shots_per_way": 2, "seed": 5}).examples()]
    for ep in episodes:
        answers = [s.answer for s in ep.shots]
        assert len(ep.shots) == 6 and sorted(set(answers)) == sorted(ep.meta["names"])
        assert answers.count(ep.target) == 2
    assert len({tuple(e.meta["names"]) for e in episodes}) > 5  # names are redrawn per episode
    # an "oracle" that finds the shot showing the same emoji scores 1; a fixed name about chance
    oracle = [next(s.answer for s in ep.shots if s.images[0].args[0] == ep.images[0].args[0]) for ep in episodes]
    assert score_replies(task, episodes, [f"This is a {a}." for a in oracle])[1]["accuracy"] == 1.0
    _, fixed = score_replies(task, episodes, [ep.meta["names"][0] for ep in episodes])
    assert fixed["answered_a_shown_name"] == 1.0 and fixed["chance"] == pytest.approx(1 / 3) and fixed["accuracy"] < 0.7
    query, shot = load_image(episodes[0].images[0]), load_image(episodes[0].shots[0].images[0])
    assert query.getpixel((0, 0)) != shot.getpixel((0, 0))  # the query is a new rendering
    with pytest.raises(ValueError, match="ways"):
        build_task("fewshot_names", {"ways": 1}).examples()


def test_fewshot_names_end_to_end(tiny_vlm):
    task = build_task("fewshot_names", {"episodes": 3})
    ids, images = PromptBuilder(tiny_vlm).encode(task, task.examples()[0])  # the episode's own shots
    assert len(images) == 3 and ids.count(tiny_vlm.image_token_id) == 3 * tiny_vlm.num_image_tokens
    result = evaluate(tiny_vlm, task, batch_size=3)
    assert len(result.predictions) == 3 and set(result.scores) == {"accuracy", "answered_a_shown_name", "chance"}


def test_embedded_text_is_held_out_from_training_and_scored_per_family():
    from vlmkit.data.embedded import sets, textgen

    task = build_task("embedded_text", {"per_family": 10})
    examples = task.examples()
    assert len(examples) == 10 * len(textgen.TASKS) and not any(e.images for e in examples)
    trained = {m[0]["content"] for m in textgen.conversations(sets.SCALES["default"].text, 0)}
    assert not trained & {e.prompt for e in examples}
    assert [e.prompt for e in examples] == [e.prompt for e in build_task("embedded_text", {"per_family": 10}).examples()]
    _, perfect = score_replies(task, examples, [f" {e.answer}\n" for e in examples])
    assert perfect["accuracy"] == 1.0 and perfect["sort/accuracy"] == 1.0 and len(perfect) == 1 + len(textgen.TASKS)
    replies = [e.answer if e.meta["type"] == "reverse" else "no idea" for e in examples]
    assert score_replies(task, examples, replies)[1]["accuracy"] == pytest.approx(1 / len(textgen.TASKS))
    with pytest.raises(ValueError, match="training seed"):
        build_task("embedded_text", {"seed": 0}).examples()


def test_embedded_text_end_to_end_without_images(tiny_vlm):
    task = build_task("embedded_text", {"per_family": 1})
    ids, images = PromptBuilder(tiny_vlm).encode(task, task.examples()[0])
    assert images == [] and tiny_vlm.image_token_id not in ids
    result = evaluate(tiny_vlm, task, batch_size=6)
    assert len(result.predictions) == 6 and "arithmetic/accuracy" in result.scores
