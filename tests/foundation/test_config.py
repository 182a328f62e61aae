"""Recipe loading: inheritance, overrides, variables and one-line errors naming the key."""

import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vlmkit.config import RecipeError, load_recipe, parse_mixture
from vlmkit.config.loading import apply_overrides, deep_merge, parse_override

BASE = """
name: base
model:
  vision_encoder: {name: tiny_vit}
  projector: {name: mlp, num_layers: 2}
  llm: {name: tiny_llama}
datasets:
  pairs: {kind: pairs, local: /data/pairs}
  text: {kind: text, local: /data/text}
stages:
  align:
    trainable: [projector]
    mixture: {pairs: 1.0}
    optimizer: {lr: 1.0e-3}
    global_batch_size: 8
    duration: 2ba
  sft:
    trainable: [projector, llm]
    mixture: "pairs+text*3"
    optimizer: {lr: 2.0e-5}
    global_batch_size: 4
    duration: 1ep
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_valid_recipe_keeps_stage_order_and_component_options(tmp_path):
    r = load_recipe(write(tmp_path, "base.yaml", BASE))
    assert list(r.stages) == ["align", "sft"]
    assert r.model.projector.options() == {"num_layers": 2}
    assert r.stages["align"].optimizer.lr == 1e-3
    assert "torch" not in sys.modules or True  # loading must not need torch (checked in test_light_import)


def test_base_inheritance_and_overrides(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """
        base: base.yaml
        name: child
        stages:
          sft: {optimizer: {lr: 1.0e-5}}
        """)
    r = load_recipe(child, ["stages.align.global_batch_size=16", "stages.sft.optimizer.lr=3e-6", "data.packing=false"])
    assert r.name == "child"
    assert r.stages["align"].global_batch_size == 16
    assert r.stages["sft"].optimizer.lr == 3e-6
    assert r.stages["sft"].trainable == ["projector", "llm"]  # inherited
    assert r.data.packing is False


def test_base_cycle_is_reported(tmp_path):
    write(tmp_path, "a.yaml", "base: b.yaml\n")
    write(tmp_path, "b.yaml", "base: a.yaml\n")
    with pytest.raises(RecipeError, match="cycle"):
        load_recipe(tmp_path / "a.yaml")


@pytest.mark.parametrize(
    "override, expected",
    [
        ("stages.align.optimiser.lr=1", "stages.align.optimiser: unknown key; did you mean 'optimizer'?"),
        ("stages.align.global_batch_size=-4", "stages.align.global_batch_size: Input should be greater than 0 (got -4)"),
        ("stages.align.duration=ten", "stages.align.duration: 'ten' is not a duration"),
        ("stages.align.trainable=[vision_tower]", "stages.align.trainable.0: Input should be 'vision_encoder', 'projector' or 'llm'"),
        ("stages.align.mixture={pairs: 0.5}", "stages.align.mixture: proportions sum to 0.5, not 1"),
        ("stages.align.mixture={laion: 1.0}", "dataset 'laion' is not defined under 'datasets'"),
        ("trainer.precision=fp8", "trainer.precision: Input should be"),
        ("stages.align.trainable=[]", "a stage must train at least one part"),
    ],
)
def test_errors_name_the_key_and_the_fix(tmp_path, override, expected):
    path = write(tmp_path, "base.yaml", BASE)
    with pytest.raises(RecipeError) as err:
        load_recipe(path, [override])
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_missing_required_key_and_bad_yaml(tmp_path):
    with pytest.raises(RecipeError, match="model: required key is missing"):
        load_recipe(write(tmp_path, "r.yaml", "name: x\nstages: {}\n"))
    with pytest.raises(RecipeError, match="invalid YAML at line 2"):
        load_recipe(write(tmp_path, "bad.yaml", "a: [1,\nb: }\n"))
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    path = write(tmp_path, "evil.yaml", "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RecipeError, match="invalid YAML"):
        load_recipe(path)


def test_environment_variables_expand(tmp_path, monkeypatch):
    text = BASE.replace("/data/pairs", "'${DATA_ROOT}/pairs'").replace("/data/text", "'${NOPE:-/fallback}/text'")
    monkeypatch.setenv("DATA_ROOT", "/mnt/d")
    r = load_recipe(write(tmp_path, "r.yaml", text))
    assert r.datasets["pairs"].local == "/mnt/d/pairs"
    assert r.datasets["text"].local == "/fallback/text"
    monkeypatch.delenv("DATA_ROOT")
    with pytest.raises(RecipeError, match=r"\$\{DATA_ROOT\} is not set"):
        load_recipe(tmp_path / "r.yaml")


def test_mixture_grammar():
    assert parse_mixture("a+b*3") == {"a": 0.25, "b": 0.75}
    assert parse_mixture("a+a") == {"a": 1.0}
    with pytest.raises(ValueError, match="bad mixture term"):
        parse_mixture("a+*2")


@given(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.integers(1, 9), min_size=1, max_size=5))
def test_mixture_grammar_normalises(weights):
    spec = "+".join(f"{k}*{v}" for k, v in weights.items())
    got = parse_mixture(spec)
    total = sum(weights.values())
    assert got.keys() == weights.keys()
    assert all(abs(got[k] - v / total) < 1e-12 for k, v in weights.items())


@given(st.recursive(st.integers() | st.text(max_size=3), lambda c: st.dictionaries(st.sampled_from("abc"), c, max_size=3)),
       st.recursive(st.integers() | st.text(max_size=3), lambda c: st.dictionaries(st.sampled_from("abc"), c, max_size=3)))
def test_deep_merge_override_wins_and_base_keys_survive(a, b):
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return
    m = deep_merge(a, b)
    for k, v in b.items():
        if not (isinstance(v, dict) and isinstance(a.get(k), dict)):
            assert m[k] == v
    assert set(a) | set(b) == set(m)


def test_override_parsing():
    assert parse_override("a.b=1e-5") == (["a", "b"], 1e-5)
    assert parse_override("x=[1, 2]") == (["x"], [1, 2])
    assert apply_overrides({"a": {"b": 1}}, ["a.c=true"]) == {"a": {"b": 1, "c": True}}
    with pytest.raises(RecipeError, match="KEY=VALUE"):
        parse_override("nokey")
    with pytest.raises(RecipeError, match="is a value, not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_light_import():
    import subprocess

    code = "import vlmkit, vlmkit.config, sys; assert 'torch' not in sys.modules, 'import vlmkit pulled in torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
