"""Recipe loading: inheritance, overrides, variables and one-line errors naming the key."""

import math
import sys
import textwrap

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from vlmkit.config import RecipeError, load_recipe, parse_mixture, validate_recipe
from vlmkit.config.loading import apply_overrides, deep_merge, parse_override, read_yaml
from vlmkit.config.safe_yaml import MAX_DEPTH, MAX_VALUES, load_yaml

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


def test_a_new_component_name_starts_its_options_afresh(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    renamed = write(tmp_path, "renamed.yaml", "base: base.yaml\nmodel: {projector: {name: linear, bias: false}}\n")
    same = write(tmp_path, "same.yaml", "base: base.yaml\nmodel: {projector: {name: mlp, depth: 3}}\n")
    assert load_recipe(renamed).model.projector.options() == {"bias": False}
    assert load_recipe(same).model.projector.options() == {"num_layers": 2, "depth": 3}
    assert load_recipe(tmp_path / "base.yaml", ["model.projector.name=linear"]).model.projector.options() == {}
    assert load_recipe(tmp_path / "base.yaml", ["model.projector.name=mlp"]).model.projector.options() == {"num_layers": 2}


def test_unset_removes_an_inherited_key_and_null_stays_a_value(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """
        base: base.yaml
        model:
          projector:
            num_layers: !unset
          llm: {pool_to: null, gone: !unset }
        stages:
          align: {optimizer: {lr: 1.0e-3, weight_decay: !unset }}
        """)
    r = load_recipe(child)
    assert r.model.projector.options() == {}
    assert r.model.llm.options() == {"pool_to": None}
    assert load_recipe(tmp_path / "base.yaml", ["model.projector.num_layers=!unset"]).model.projector.options() == {}
    no_space = write(tmp_path, "no_space.yaml", "model: {projector: {depth: !unset}}\n")
    with pytest.raises(RecipeError, match=r"line 1, column 34: expected ' ', but found '\}'; a tag needs a space after it"):
        load_recipe(no_space)
    assert load_recipe(tmp_path / "base.yaml", ["model.projector.num_layers=null"]).model.projector.options() == {"num_layers": None}


def test_replace_puts_a_mapping_in_place_of_the_inherited_one(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """
        base: base.yaml
        stages: !replace
          sft: {trainable: [llm], mixture: {text: 1.0}, optimizer: {lr: 1.0e-5}, global_batch_size: 2, duration: 3ba}
        """)
    r = load_recipe(child)
    assert list(r.stages) == ["sft"] and r.stages["sft"].trainable == ["llm"]


def test_errors_in_inherited_keys_name_the_file_they_came_from(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("lr: 1.0e-3", "lr: -1.0e-3"))
    write(tmp_path, "middle.yaml", "base: base.yaml\ndata: {max_seq_len: 0}\n")
    child = write(tmp_path, "child.yaml", "base: middle.yaml\nname: child\ntrainer: {seed: -1}\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(child)
    lines = str(err.value).splitlines()
    assert f"{child}: stages.align.optimizer.lr (from base.yaml): Input should be greater than 0 (got -0.001)" in lines
    assert f"{child}: data.max_seq_len (from middle.yaml): Input should be greater than 0 (got 0)" in lines
    assert f"{child}: trainer.seed: Input should be greater than or equal to 0 (got -1)" in lines
    with pytest.raises(RecipeError) as err:  # a key the command line set comes from no file
        load_recipe(child, ["data.max_seq_len=-3", "trainer.seed=1"])
    assert f"{child}: data.max_seq_len: Input should be greater than 0 (got -3)" in str(err.value).splitlines()


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path):
    path = write(tmp_path, "dup.yaml", "stages:\n  align:\n    duration: 1ba\n    global_batch_size: 2\n    duration: 2ba\n")
    with pytest.raises(RecipeError, match=r"line 5, column 5: duplicate key 'duration' \(first given at line 3\)"):
        read_yaml(path)
    # a key overriding one merged in with '<<' is not a duplicate
    assert load_yaml("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\n") == {"a": {"x": 1, "y": 2}, "b": {"x": 1, "y": 3}}


LR_REFUSED = st.one_of(st.floats(max_value=0.0, allow_nan=False), st.sampled_from([math.inf, -math.inf, math.nan]), st.booleans())


@given(lr=LR_REFUSED)
def test_any_non_finite_or_non_positive_lr_is_refused_naming_the_key(lr):
    data = yaml.safe_load(BASE)
    data["stages"]["align"]["optimizer"]["lr"] = lr
    with pytest.raises(RecipeError) as err:
        validate_recipe(data)
    assert [line.split(":")[0] for line in str(err.value).splitlines()] == ["stages.align.optimizer.lr"]


@given(lr=st.floats(min_value=1e-12, max_value=1e3), mult=st.floats(min_value=1e-6, max_value=1e3))
def test_any_finite_positive_lr_and_multiplier_is_kept(lr, mult):
    data = yaml.safe_load(BASE)
    data["stages"]["align"]["optimizer"].update(lr=lr, lr_multipliers={"projector": mult})
    opt = validate_recipe(data).stages["align"].optimizer
    assert opt.lr == lr and opt.lr_multipliers == {"projector": mult}


@given(depth=st.integers(1, 3 * MAX_DEPTH), mapping=st.booleans())
def test_nesting_is_read_up_to_the_limit_and_refused_past_it_without_recursion_error(depth, mapping):
    inner = "{a: " * depth + "1" + "}" * depth if mapping else "[" * depth + "]" * depth
    text = f"key: {inner}\n"
    levels = depth + 1 + mapping  # the top mapping, each nested collection, and the innermost scalar of a mapping
    if levels <= MAX_DEPTH:
        assert load_yaml(text) == yaml.safe_load(text)
    else:
        with pytest.raises(yaml.YAMLError, match=f"nested more than {MAX_DEPTH} levels deep"):
            load_yaml(text)


@given(levels=st.integers(0, 9), width=st.integers(1, 12))
def test_aliases_are_expanded_up_to_the_limit_and_refused_past_it(levels, width):
    lines = [f"x0: &x0 [{', '.join(['v'] * width)}]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    text = "\n".join(lines) + "\n"
    sizes = [1 + width]  # a list of `width` scalars, then lists of `width` copies of the one before
    for _ in range(levels):
        sizes.append(1 + width * sizes[-1])
    values = 1 + sum(1 + s for s in sizes)  # the top mapping, and each key with its value
    if values <= MAX_VALUES:
        assert load_yaml(text) == yaml.safe_load(text)
    else:
        with pytest.raises(yaml.YAMLError, match="alias bomb"):
            load_yaml(text)


@given(st.recursive(st.integers() | st.text(max_size=4) | st.floats(allow_nan=False) | st.booleans() | st.none(),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=12))
def test_the_recipe_loader_reads_what_safe_load_reads(data):
    text = yaml.safe_dump({"k": data})
    assert load_yaml(text) == yaml.safe_load(text)
