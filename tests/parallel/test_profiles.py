"""The megatron and deepspeed memory conventions against the peers' own code, run on the
same configurations: tests/reference/memory_peers_measured.json (measure_memory_peers.py:
Megatron-LM's theoretical_memory_usage.py at d98e8a64, DeepSpeed 0.19.8)."""

import json

import pytest

import archspec
from archspec.parallel import Layout
from archspec.parallel.profiles import (
    deepspeed_model_states,
    largest_layer_params,
    megatron_activations,
    megatron_model,
    megatron_weight_and_optimizer,
)
from tests.conftest import ROOT, SPECS

MEASURED = json.loads((ROOT / "tests" / "reference" / "memory_peers_measured.json").read_text())
MEGATRON = [case for case in MEASURED["megatron"] if case.get("model") in ("llama3_8b", "gpt3_175b", "mixtral_8x7b")]


def layout_of(config: dict, microbatches) -> Layout:
    return Layout(
        tp=config["tensor_model_parallel_size"], pp=config["pipeline_model_parallel_size"], dp=config["data_parallel_size"],
        ep=config["expert_model_parallel_size"], sp=config["sequence_parallel"],
        recompute=config["recompute_granularity"] or "none", distributed_optimizer=config["use_distributed_optimizer"],
        virtual_stages=config["virtual_pipeline_model_parallel_size"] or 1, microbatches=microbatches or 1,
    )


@pytest.mark.parametrize("case", MEGATRON, ids=[case["name"] for case in MEGATRON])
def test_megatron_profile_reproduces_megatrons_estimator_to_the_byte(case):
    config = case["input"]
    report = archspec.analyze(SPECS / f"{case['model']}.yaml", B=config["micro_batch_size"], L=config["seq_length"])
    model = megatron_model(report)
    assert (model.hidden_size, model.num_query_groups, model.ffn_hidden_size, model.num_layers) == (
        config["hidden_size"], config["num_query_groups"], config["ffn_hidden_size"], config["num_layers"],
    )
    layout = layout_of(config, case["num_microbatches"])
    outputs = case["outputs"]
    assert abs(megatron_weight_and_optimizer(model, layout) - outputs["weight_and_optimizer_bytes"]) < 1
    chosen = "compute_activation_memory_bytes" if outputs["report_selected"] == "compute_activation_memory" else "compute_activation_memory_without_sp_bytes"
    assert abs(megatron_activations(model, layout) - outputs[chosen]) < 1


def test_the_largest_layer_is_the_embedding_as_deepspeed_counts_modules():
    for spec in ("llama3_8b", "gpt3_175b"):
        case = next(c for c in MEASURED["deepspeed"] if c["model"] == spec)
        assert largest_layer_params(archspec.analyze(SPECS / f"{spec}.yaml")) == case["largest_layer_params_not_an_argument"] or \
            largest_layer_params(archspec.analyze(SPECS / f"{spec}.yaml")) == case["input"].get("largest_layer_params")


DEEPSPEED = [c for c in MEASURED["deepspeed"] if not c["input"].get("cpu_offload")]


@pytest.mark.parametrize("case", DEEPSPEED, ids=[c["name"] for c in DEEPSPEED])
def test_deepspeed_profile_reproduces_its_estimators(case):
    config = case["input"]
    stage = 2 if "zero2" in case["function"] else 3
    largest = config.get("largest_layer_params", case.get("largest_layer_params_not_an_argument", 0))
    got = deepspeed_model_states(stage, int(config["total_params"]), int(largest), config["num_gpus_per_node"], config["num_nodes"])
    assert got == {"gpu": case["outputs"]["gpu_bytes"], "cpu": case["outputs"]["cpu_bytes"]}
