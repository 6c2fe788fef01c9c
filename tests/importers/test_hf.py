"""HF config -> spec against transformers itself (tests/reference/hf_families_measured.json, made by
tests/reference/measure_hf_families.py): for every family, params of the full-size model (meta
device), FlopCounterMode's forward FLOPs and the KV cache's bytes on a small float32 instance."""

import json
import re
from pathlib import Path

import pytest

import archspec
from archspec.importers import import_spec
from archspec.importers.hf import supported
from archspec.memory import MemoryOptions, memory

REFERENCE = Path(__file__).parent.parent / "reference"
MEASURED = json.loads((REFERENCE / "hf_families_measured.json").read_text())["families"]
CONFIGS = REFERENCE / "hf_configs"

# the small instance's sizes as the spec's params: batch B, sequence L (decoder T); Whisper's
# L is its mel frames, ViT's image is the config's image_size
SMALL_BINDINGS = {family: {"B": 2, "L": 16} for family in MEASURED}
SMALL_BINDINGS.update({"t5": {"B": 2, "L": 16, "T": 8}, "bart": {"B": 2, "L": 16, "T": 8},
                       "whisper": {"B": 2, "L": 32, "T": 8}, "vit": {"B": 2}})


def _import(family: str, size: str = "") -> str:
    return import_spec(CONFIGS / f"{family}{size}.json")


def _families():
    return [f for f in MEASURED if f in supported()]


def test_every_family_of_the_issue_is_supported():
    assert set(MEASURED) <= set(supported())


@pytest.mark.parametrize("family", _families())
def test_params_equal_the_full_size_model(family):
    report = archspec.analyze(_import(family))
    assert report.totals["params"] == MEASURED[family]["reference"]["params"]


@pytest.mark.parametrize("family", _families())
def test_flopcounter_flops_and_kv_cache_equal_the_small_instance(family):
    small = MEASURED[family]["small"]
    text = _import(family, "_small")
    report = archspec.analyze(text, convention="flopcounter", **SMALL_BINDINGS[family])
    assert report.totals["params"] == small["params"]
    assert report.totals["flops"] == small["forward_flops"]
    if small.get("kv_cache_bytes") is not None:
        # the keys and values (and SSM states) the cache holds; HF's sliding layers also keep an
        # 8-byte int64 scalar each (_sliding_window_tensor), bookkeeping archspec leaves out
        inference = memory(archspec.analyze(text, **SMALL_BINDINGS[family]), MemoryOptions(training=False, dtype="fp32"))
        assert inference.totals["kv_cache"] == small["kv_cache"]["state_bytes"]


@pytest.mark.parametrize("family", _families())
def test_importing_twice_gives_the_same_text(family):
    assert _import(family) == _import(family)


def test_the_llama_config_round_trips_to_the_zoo_spec():
    from tests.conftest import SPECS

    for options in (MemoryOptions(), MemoryOptions(training=False, dtype="bf16")):
        imported = archspec.analyze(CONFIGS / "llama.json", L=8192, training=options.training)
        written = archspec.analyze(SPECS / "llama3_8b.yaml", L=8192, training=options.training)
        assert imported.totals == written.totals
        assert memory(imported, options).totals == memory(written, options).totals


def test_the_sequence_length_defaults_to_the_smaller_of_the_maximum_and_4096():
    assert archspec.analyze(_import("llama")).params["L"] == 4096  # max_position_embeddings 131072
    assert archspec.analyze(_import("llama", "_small")).params["L"] == 256  # max_position_embeddings 256


@pytest.mark.parametrize("family, key, value, message", [
    ("mixtral", "num_hidden_layers", 10**30, "at most 281,474,976,710,656 (max_dim)"),  # an OverflowError before
    ("mixtral", "num_hidden_layers", 10**9, "at most 10,000 layers (--limit max_repeat)"),  # a list of 10**9 layers
    ("deepseek_v3", "num_hidden_layers", 10**6, "at most 10,000 layers"),
    ("llama", "hidden_size", 2**60, "(max_dim)"),
])
def test_a_size_beyond_the_limits_is_an_error_naming_the_key(family, key, value, message):
    from archspec.errors import SpecError

    config = json.loads((CONFIGS / f"{family}.json").read_text())
    config[key] = value
    with pytest.raises(SpecError, match=rf"key '{key}': expected .*{message.replace('(', '[(]').replace(')', '[)]')}"):
        archspec.analyze(config)


@pytest.mark.parametrize("family, key, value, message", [
    ("qwen2", "layer_types", 1000, "expected a list of 'full_attention' or 'sliding_attention', found 1000"),
    ("qwen2_moe", "layer_types", False, "expected a list of 'full_attention' or 'sliding_attention', found False"),
    ("llama", "rope_parameters", {"rope_theta": "x"}, "rope_theta: expected a number, found 'x'"),
    ("gemma3_text", "rope_parameters", {"full_attention": {"rope_theta": "big"}}, "rope_theta: expected a number"),
])
def test_a_value_of_the_wrong_type_inside_a_key_is_an_error_naming_the_key(family, key, value, message):
    """Each was an internal TypeError or ValueError (found by mutating the reference configs)."""
    from archspec.errors import SpecError

    config = json.loads((CONFIGS / f"{family}.json").read_text())
    config[key] = value
    with pytest.raises(SpecError, match=rf"key '{key}': {re.escape(message)}"):
        archspec.analyze(config)


def test_a_raised_repeat_limit_admits_more_layers():
    from archspec.limits import Limits, applied

    config = json.loads((CONFIGS / "llama_small.json").read_text())
    config["num_hidden_layers"] = 10_001
    with applied(Limits(max_repeat=10_001)):
        assert "num_hidden_layers: 10001" in import_spec(config)
