"""HF config -> spec against transformers itself (tests/reference/hf_families_measured.json, made by
tests/reference/measure_hf_families.py): for every family, params of the full-size model (meta
device), FlopCounterMode's forward FLOPs and the KV cache's bytes on a small float32 instance."""

import json
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
