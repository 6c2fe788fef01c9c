"""Run Megatron-LM's theoretical memory estimator and DeepSpeed's ZeRO model-state estimators
on a fixed table of configurations; print one JSON document (see memory_peers_measured.json).

Not run by the tests. Usage:

    python measure_memory_peers.py PATH/TO/theoretical_memory_usage.py [--megatron-commit HASH]

PATH is megatron/training/theoretical_memory_usage.py extracted unchanged from a Megatron-LM
checkout (`git show HEAD:megatron/training/theoretical_memory_usage.py > ...`). Its only
import beyond the standard library is `from .utils import is_hybrid_model, print_rank_0`; this
script loads the file as a submodule of a stub package whose `utils` provides those two helpers
(copied in behaviour from megatron/training/utils/common_utils.py, rank 0 assumed), so the file's
functions run unchanged on an argparse.Namespace. The DeepSpeed part needs `deepspeed` importable
(torch CPU is enough); it calls the raw estimators with explicit parameter counts, no model.
"""
import argparse, contextlib, datetime, importlib.util, io, json, logging, math, sys, types, warnings


# ---------------------------------------------------------------- Megatron
def load_megatron(path):
    pkg = types.ModuleType("_megatron_stub")
    pkg.__path__ = []
    utils = types.ModuleType("_megatron_stub.utils")
    utils.is_hybrid_model = lambda args: args.hybrid_layer_pattern is not None
    utils.print_rank_0 = lambda message, rank=None: print(message, flush=True)
    sys.modules["_megatron_stub"] = pkg
    sys.modules["_megatron_stub.utils"] = utils
    spec = importlib.util.spec_from_file_location("_megatron_stub.theoretical_memory_usage", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


MODELS = {
    "llama3_8b": dict(
        hidden_size=4096, num_attention_heads=32, kv_channels=128, group_query_attention=True,
        num_query_groups=8, ffn_hidden_size=14336, swiglu=True, normalization="RMSNorm",
        padded_vocab_size=128256, untie_embeddings_and_output_weights=True, num_layers=32,
        num_experts=None, moe_ffn_hidden_size=None, moe_router_topk=2, moe_layer_freq=1,
        moe_shared_expert_intermediate_size=None, moe_shared_expert_gate=False,
        seq_length=8192, micro_batch_size=1),
    "gpt3_175b": dict(
        hidden_size=12288, num_attention_heads=96, kv_channels=128, group_query_attention=False,
        num_query_groups=96, ffn_hidden_size=49152, swiglu=False, normalization="LayerNorm",
        padded_vocab_size=51200, untie_embeddings_and_output_weights=False, num_layers=96,
        num_experts=None, moe_ffn_hidden_size=None, moe_router_topk=2, moe_layer_freq=1,
        moe_shared_expert_intermediate_size=None, moe_shared_expert_gate=False,
        seq_length=2048, micro_batch_size=1),
    "mixtral_8x7b": dict(
        hidden_size=4096, num_attention_heads=32, kv_channels=128, group_query_attention=True,
        num_query_groups=8, ffn_hidden_size=14336, swiglu=True, normalization="RMSNorm",
        padded_vocab_size=32000, untie_embeddings_and_output_weights=True, num_layers=32,
        num_experts=8, moe_ffn_hidden_size=14336, moe_router_topk=2, moe_layer_freq=1,
        moe_shared_expert_intermediate_size=None, moe_shared_expert_gate=False,
        seq_length=4096, micro_batch_size=1),
}
COMMON = dict(
    add_bias_linear=False, mtp_num_layers=None, moe_latent_size=None, multi_latent_attention=False,
    hybrid_layer_pattern=None)

# (name, model, tp, pp, dp, ep, sequence_parallel, recompute_granularity, use_distributed_optimizer,
#  virtual_pipeline_model_parallel_size, num_microbatches)
LAYOUTS = [
    ("llama3_8b_tp1_pp1_dp1", "llama3_8b", 1, 1, 1, 1, False, None, False, None, None),
    ("llama3_8b_tp8_pp1_dp4_sp_sel_distopt", "llama3_8b", 8, 1, 4, 1, True, "selective", True, None, None),
    ("llama3_8b_tp2_pp4_dp8_mb8", "llama3_8b", 2, 4, 8, 1, False, None, False, None, 8),
    ("gpt3_175b_tp8_pp8_dp16_sp_sel_vp3_mb64", "gpt3_175b", 8, 8, 16, 1, True, "selective", False, 3, 64),
    ("gpt3_175b_tp8_pp8_dp16_vp3_mb64", "gpt3_175b", 8, 8, 16, 1, False, None, False, 3, 64),
    ("gpt3_175b_tp8_pp8_dp16_sp_sel_distopt_mb64", "gpt3_175b", 8, 8, 16, 1, True, "selective", True, None, 64),
    ("mixtral_8x7b_tp2_pp4_dp8_ep4_sp_sel_distopt_mb16", "mixtral_8x7b", 2, 4, 8, 4, True, "selective", True, None, 16),
    ("mixtral_8x7b_tp1_pp1_dp8_ep8", "mixtral_8x7b", 1, 1, 8, 8, False, None, False, None, None),
]


def layout_args(model, tp, pp, dp, ep, sp, recompute, distopt, vp):
    a = dict(COMMON, **MODELS[model])
    a.update(tensor_model_parallel_size=tp, pipeline_model_parallel_size=pp, data_parallel_size=dp,
             world_size=dp * tp * pp, expert_model_parallel_size=ep, expert_tensor_parallel_size=tp,
             sequence_parallel=sp, recompute_granularity=recompute,
             use_distributed_optimizer=distopt, virtual_pipeline_model_parallel_size=vp)
    return a


def run_megatron(m, attrs, num_microbatches, with_activation=True):
    """Each function gets a fresh Namespace (compute_weight_and_optimizer_memory writes
    args.num_query_groups when group_query_attention is False)."""
    ns = lambda: argparse.Namespace(**attrs)
    out = {"weight_and_optimizer_bytes": m.compute_weight_and_optimizer_memory(ns())}
    if with_activation:
        out["compute_activation_memory_bytes"] = m.compute_activation_memory(ns(), num_microbatches)
        out["compute_activation_memory_without_sp_bytes"] = m.compute_activation_memory_without_sp(ns(), num_microbatches)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            w, act, tot = m.report_theoretical_memory(ns(), num_microbatches=num_microbatches)
        out["report_theoretical_memory_MiB"] = {"weight_and_optimizer": w, "activation": act, "total": tot}
        out["report_selected"] = ("compute_activation_memory"
                                  if attrs["sequence_parallel"] and attrs["recompute_granularity"] == "selective"
                                  else "compute_activation_memory_without_sp")
        out["report_printed"] = buf.getvalue().strip().splitlines()
    return out


# tests/unit_tests/training/test_weight_and_optimizer_memory.py, _make_args() copied exactly.
UNIT_TEST_BASE = dict(
    add_bias_linear=False, data_parallel_size=16, expert_model_parallel_size=2,
    expert_tensor_parallel_size=4, ffn_hidden_size=16, group_query_attention=False, hidden_size=8,
    kv_channels=4, moe_ffn_hidden_size=16, moe_latent_size=None, moe_layer_freq=[0, 1],
    moe_router_topk=1, moe_shared_expert_gate=False, moe_shared_expert_intermediate_size=8,
    mtp_num_layers=None, multi_latent_attention=False, normalization="RMSNorm",
    num_attention_heads=2, num_experts=4, num_layers=2, padded_vocab_size=32,
    pipeline_model_parallel_size=1, swiglu=False, tensor_model_parallel_size=2,
    untie_embeddings_and_output_weights=False, use_distributed_optimizer=True, world_size=32)


def unit_test_entries(m):
    out = []
    # test_weight_and_optimizer_memory_accounts_for_expert_parallelism
    a = dict(UNIT_TEST_BASE, pipeline_model_parallel_size=2, world_size=64)
    exp = (((256 + 256 + 256 + 128) / 2 + 256) / 2 + (16 + 16 + 32 + 8) / 2) * (6 + 12 / 16) \
        + (1024 / 2 / (4 * 2)) * (6 + 12 / 4)
    got = m.compute_weight_and_optimizer_memory(argparse.Namespace(**a))
    out.append({"name": "unit_test_accounts_for_expert_parallelism", "input": a,
                "expected_weight_and_optimizer_bytes": exp,
                "outputs": {"weight_and_optimizer_bytes": got},
                "isclose": math.isclose(got, exp), "exact": got == exp})
    # test_weight_and_optimizer_memory_accounts_for_latent_moe_experts
    a = dict(UNIT_TEST_BASE, moe_latent_size=4)
    exp = (((256 + 256) + (256 + 128) + 256) / 2 + 16 + (16 + 64 + 32) + 8) * (6 + 12 / 16) \
        + (512 / (4 * 2)) * (6 + 12 / 4)
    got = m.compute_weight_and_optimizer_memory(argparse.Namespace(**a))
    out.append({"name": "unit_test_accounts_for_latent_moe_experts", "input": a,
                "expected_weight_and_optimizer_bytes": exp,
                "outputs": {"weight_and_optimizer_bytes": got},
                "isclose": math.isclose(got, exp), "exact": got == exp})
    # test_weight_and_optimizer_memory_decreases_with_tensor_parallelism (ordering only)
    for tp in (1, 2, 4):
        a = dict(UNIT_TEST_BASE, data_parallel_size=16, expert_model_parallel_size=1,
                 expert_tensor_parallel_size=1, tensor_model_parallel_size=tp,
                 use_distributed_optimizer=False, world_size=16 * tp)
        out.append({"name": f"unit_test_decreases_with_tensor_parallelism_tp{tp}", "input": a,
                    "expected_weight_and_optimizer_bytes": "strictly decreasing over tp 1, 2, 4",
                    "outputs": {"weight_and_optimizer_bytes": m.compute_weight_and_optimizer_memory(argparse.Namespace(**a))}})
    # test_weight_and_optimizer_memory_decreases_with_expert_parallelism (ordering only)
    for ep, etp in ((1, 1), (2, 1), (2, 2), (4, 2)):
        a = dict(UNIT_TEST_BASE, expert_model_parallel_size=ep, expert_tensor_parallel_size=etp)
        out.append({"name": f"unit_test_decreases_with_expert_parallelism_ep{ep}_etp{etp}", "input": a,
                    "expected_weight_and_optimizer_bytes": "strictly decreasing over (ep, etp) (1,1), (2,1), (2,2), (4,2)",
                    "outputs": {"weight_and_optimizer_bytes": m.compute_weight_and_optimizer_memory(argparse.Namespace(**a))}})
    return out


def megatron_entries(path):
    m = load_megatron(path)
    out = []
    for name, model, tp, pp, dp, ep, sp, rc, do, vp, nmb in LAYOUTS:
        attrs = layout_args(model, tp, pp, dp, ep, sp, rc, do, vp)
        out.append({"name": name, "model": model, "input": dict(attrs), "num_microbatches": nmb,
                    "outputs": run_megatron(m, attrs, nmb)})
    return out + unit_test_entries(m)


# ---------------------------------------------------------------- DeepSpeed
DS_MODELS = [("llama3_8b", 8030261248, 525336576),
             ("gpt3_175b", 174615846912, 629145600),
             ("t5_3b", int(2851e6), int(32e6))]


def deepspeed_entries():
    warnings.filterwarnings("ignore"); logging.disable(logging.CRITICAL)
    with contextlib.redirect_stdout(io.StringIO()):
        import deepspeed
        from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    out = []
    for name, total, largest in DS_MODELS:
        for nodes in (1, 4):
            for off in (False, True):
                kw = dict(total_params=total, num_gpus_per_node=8, num_nodes=nodes, cpu_offload=off,
                          additional_buffer_factor=1.5)
                cpu, gpu = estimate_zero2_model_states_mem_needs(**kw)
                out.append({"name": f"{name}_zero2_nodes{nodes}_offload{int(off)}", "model": name,
                            "function": "deepspeed.runtime.zero.stage_1_and_2.estimate_zero2_model_states_mem_needs",
                            "input": kw, "largest_layer_params_not_an_argument": largest,
                            "outputs": {"cpu_bytes": cpu, "gpu_bytes": gpu}})
            for off in (False, True):
                for offp in (True, False):
                    kw = dict(total_params=total, largest_layer_params=largest, num_gpus_per_node=8,
                              num_nodes=nodes, cpu_offload=off, cpu_offload_params=offp, zero_init=True,
                              additional_buffer_factor=1.5)
                    cpu, gpu, llm = estimate_zero3_model_states_mem_needs(**kw)
                    out.append({"name": f"{name}_zero3_nodes{nodes}_offload{int(off)}_offloadparams{int(offp)}_zeroinit1",
                                "model": name,
                                "function": "deepspeed.runtime.zero.stage3.estimate_zero3_model_states_mem_needs",
                                "input": kw,
                                "outputs": {"cpu_bytes": cpu, "gpu_bytes": gpu, "largest_layer_memory_bytes": llm}})
    return deepspeed.__version__, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("megatron_file")
    ap.add_argument("--megatron-commit", default="unknown")
    a = ap.parse_args()
    meg = megatron_entries(a.megatron_file)
    ds_version, ds = deepspeed_entries()
    import torch
    about = (
        f"Figures returned by the peers' own code, run on {datetime.date.today().isoformat()} by "
        f"tests/reference/measure_memory_peers.py (Python {sys.version.split()[0]}). "
        f"Megatron-LM commit {a.megatron_commit}: megatron/training/theoretical_memory_usage.py extracted "
        "unchanged and loaded as a submodule of a stub package whose utils gives is_hybrid_model "
        "(args.hybrid_layer_pattern is not None) and print_rank_0 (print); compute_weight_and_optimizer_memory(args), "
        "compute_activation_memory(args, num_microbatches), compute_activation_memory_without_sp(args, num_microbatches) "
        "and report_theoretical_memory(args, num_microbatches) (MiB, stdout captured; it picks compute_activation_memory "
        "only when sequence_parallel and recompute_granularity == 'selective') each called on a fresh argparse.Namespace "
        "built from 'input'; outputs are the raw returned values in bytes (floats kept as returned). "
        "'unit_test_*' entries copy tests/unit_tests/training/test_weight_and_optimizer_memory.py at the same commit "
        "(expected value computed with the test's own expression). "
        f"DeepSpeed {ds_version} (torch {torch.__version__}, CPU accelerator): "
        "estimate_zero2_model_states_mem_needs returns (cpu_bytes, gpu_bytes) and takes no largest_layer_params; "
        "estimate_zero3_model_states_mem_needs returns (cpu_bytes, gpu_bytes, largest_layer_memory_bytes); both called "
        "with explicit total_params (no model), additional_buffer_factor 1.5 (the default). t5_3b's counts are those of "
        "DeepSpeed's memory docs (int(2851e6), int(32e6)).")
    print(json.dumps({"about": about, "megatron": meg, "deepspeed": ds}, indent=1))


if __name__ == "__main__":
    main()
