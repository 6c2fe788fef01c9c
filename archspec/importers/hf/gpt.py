"""GPT-style families: gpt2, gpt_neox, gptj, opt, bloom, falcon, starcoder2 (transformers 5.24.0
config defaults). LayerNorm with biases, plain MLPs, learned, rotary or ALiBi positions; each
layer's body is written out as the family's module runs it."""

from __future__ import annotations

from archspec.importers.draft import Comment, Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.classic import (
    Entry,
    add,
    attention,
    canonical,
    dropout,
    head,
    last,
    layer_block,
    layer_norm,
    mlp,
    probability,
    rotated_dims,
    sequence_length,
    stack,
    start,
)
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.parts import activation, rope_theta

ROPE = ["rope"]
FUSED_QKV = "The fused query_key_value projection is written as the Attention's q, k and v projections (the same counts)."


def _heads(draft: Draft, config: HFConfig, hidden: int, heads_key: str, default: int, explicit: bool = False) -> int:
    """Declares the heads param; returns the head dim: the config's head_dim when `explicit` and set,
    else hidden / heads, which HF requires to divide exactly."""
    heads = config.int(heads_key, default)
    draft.param(heads_key, heads)
    if explicit and config.has("head_dim"):
        return config.int("head_dim")
    if hidden % heads:
        raise config.error(f"must divide the hidden size {hidden}", heads_key)
    return hidden // heads


def _positions_input(draft: Draft, batch: str | int) -> str:
    """position_ids, the int64 ids HF looks its learned position table up with (GPT-2: (1, L); OPT: (B, L))."""
    draft.inputs["position_ids"] = {"shape": [batch, "L"], "dtype": "int64"}
    return "position_ids"


def _tokens(draft: Draft) -> None:
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}


def _inner(draft: Draft, config: HFConfig, key: str, hidden: str) -> str:
    """The MLP width: the key, or 4 * hidden when it is null (GPT-2, GPT-J, Falcon)."""
    if config.has(key):
        return draft.param(key, config.int(key))
    return draft.param(key, f"4 * {hidden}", f"null in the config: 4 * {hidden}")


def _rotary_table(config: HFConfig, dim: str, default_theta: float = 10000.0) -> Entry:
    """The cos/sin table HF's rotary module computes once per forward pass from the positions."""
    return {"name": "rotary_emb", "type": "RotaryEmbedding", "dim": dim, "base": rope_theta(config, default_theta),
            "from": "input_ids"}


GPT2_ALIASES = {"hidden_size": "n_embd", "max_position_embeddings": "n_positions", "num_attention_heads": "n_head",
                "num_hidden_layers": "n_layer"}


@family("gpt2")
def gpt2(config: HFConfig, options: Options) -> Draft:
    """GPT2Config: n_inner null = 4 * n_embd, gelu_new, eps 1e-5, dropouts 0.1, lm_head tied to wte."""
    config = canonical(config, GPT2_ALIASES)
    config.choice("add_cross_attention", (False,), False)
    config.bool("reorder_and_upcast_attn", False)  # eager only: the same products as baddbmm, in float32
    notes = []
    if config.bool("scale_attn_by_inverse_layer_idx", False):
        notes.append("scale_attn_by_inverse_layer_idx: layer i also divides its scores by i + 1 (no count changes).")
    draft = start(config, options, "GPT-2: learned positions, pre-LayerNorm, multi-head attention and a GELU MLP, "
                  "all with biases.", notes + ["c_attn / c_proj (Conv1D) are the Attention's projections (the same counts)."])
    sequence_length(draft, config, "n_positions", 1024)
    draft.param("vocab_size", config.int("vocab_size", 50257))
    draft.param("n_positions", config.int("n_positions", 1024))
    hidden = config.int("n_embd", 768)
    draft.param("n_embd", hidden)
    draft.param("n_layer", config.int("n_layer", 12))
    _heads(draft, config, hidden, "n_head", 12)
    inner = _inner(draft, config, "n_inner", "n_embd")
    _tokens(draft)
    positions = _positions_input(draft, 1)

    eps = config.float("layer_norm_epsilon", 1e-5)
    resid = probability(config, "resid_pdrop", 0.1)
    act = activation(config, "activation_function", "gelu_new", name="act")
    block = mlp(draft, "GPT2MLP", act, "n_embd", inner, True, ("c_fc", "c_proj"), resid)
    scale = {} if config.bool("scale_attn_weights", True) else {"scale": 1}
    attn = attention(options, "attn", "n_head", True, "ln_1", [], probability(config, "attn_pdrop", 0.1), **scale)
    attn_part = [attn, *dropout("resid_dropout", resid)]
    body = [
        layer_norm("ln_1", eps, "x"), *attn_part, add("attn_residual", last(attn_part), "x"),
        layer_norm("ln_2", eps), {"name": "mlp", "type": block}, add("mlp_residual", "mlp", "attn_residual"),
    ]
    layer_block(draft, "GPT2Block", "x + attn(ln_1(x)), then + mlp(ln_2(.))", body, [])

    embed = [add("embed", "wte", "wpe"), *dropout("drop", probability(config, "embd_pdrop", 0.1))]
    draft.layers = [
        {"name": "wte", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "n_embd", "from": "input_ids"},
        {"name": "wpe", "type": "Embedding", "num_embeddings": "n_positions", "embedding_dim": "n_embd", "from": positions},
        *embed,
        stack("h", "GPT2Block", last(embed), [], "n_layer"),
        layer_norm("ln_f", eps),
        *head(draft, config, ("LMHeadModel",), "vocab_size", "wte", True),
    ]
    return draft


@family("gpt_neox")
def gpt_neox(config: HFConfig, options: Options) -> Draft:
    """GPTNeoXConfig: parallel residual, rotary on 25% of each head, biases (attention_bias true), untied head."""
    parallel = config.bool("use_parallel_residual", True)
    layout = "x + attn(ln1(x)) + mlp(ln2(x))" if parallel else "x + attn(ln1(x)), then + mlp(ln2(.))"
    draft = start(config, options, f"GPT-NeoX: partial rotary positions, LayerNorm, {'parallel' if parallel else 'sequential'} "
                  "attention and GELU MLP with biases.", [FUSED_QKV])
    sequence_length(draft, config, "max_position_embeddings", 2048)
    draft.param("vocab_size", config.int("vocab_size", 50432))
    hidden = config.int("hidden_size", 6144)
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", config.int("num_hidden_layers", 44))
    head_dim = _heads(draft, config, hidden, "num_attention_heads", 64)
    draft.param("intermediate_size", config.int("intermediate_size", 24576))
    draft.param("rotary_ndims", rotated_dims(config, head_dim, 0.25), "int(head_dim * partial_rotary_factor)")
    _tokens(draft)

    eps = config.float("layer_norm_eps", 1e-5)
    hidden_p = probability(config, "hidden_dropout", 0.0)
    bias = config.bool("attention_bias", True)
    act = activation(config, "hidden_act", "gelu", name="act")
    block = mlp(draft, "GPTNeoXMLP", act, "hidden_size", "intermediate_size", True, ("dense_h_to_4h", "dense_4h_to_h"))
    attn = attention(options, "attention", "num_attention_heads", bias, "input_layernorm", ROPE,
                     probability(config, "attention_dropout", 0.0), rotary=True)
    attn_part = [attn, *dropout("post_attention_dropout", hidden_p)]
    mlp_part = [{"name": "mlp", "type": block}, *dropout("post_mlp_dropout", hidden_p)]
    if parallel:
        body = [layer_norm("input_layernorm", eps, "x"), *attn_part, layer_norm("post_attention_layernorm", eps, "x"),
                *mlp_part, add("residual", last(mlp_part), last(attn_part), "x")]
    else:
        body = [layer_norm("input_layernorm", eps, "x"), *attn_part, add("attn_residual", last(attn_part), "x"),
                layer_norm("post_attention_layernorm", eps), *mlp_part, add("mlp_residual", last(mlp_part), "attn_residual")]
    layer_block(draft, "GPTNeoXLayer", layout, body, ROPE)

    embed = [{"name": "embed_in", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
              "from": "input_ids"}, *dropout("emb_dropout", hidden_p)]
    draft.layers = [
        *embed,
        _rotary_table(config, "rotary_ndims", config.float("rotary_emb_base", 10000.0)),
        stack("layers", "GPTNeoXLayer", last(embed), ["rotary_emb"], "num_hidden_layers"),
        layer_norm("final_layer_norm", eps),
        *head(draft, config, ("ForCausalLM",), "vocab_size", "embed_in", False),
    ]
    return draft


@family("gptj")
def gptj(config: HFConfig, options: Options) -> Draft:
    """GPTJConfig: one LayerNorm feeds attention and MLP in parallel; rotary_dim 64 from a sin/cos
    table of n_positions rows; no attention biases; lm_head with a bias, untied."""
    config = canonical(config, GPT2_ALIASES)
    if "rotary_dim" in config.data and config.data["rotary_dim"] is None:
        raise config.error("is null: HF's GPT-J table is then hidden_size wide, which only fits one head; "
                           "the converter builds a rotary_dim", "rotary_dim")
    draft = start(config, options, "GPT-J: parallel attention and GELU MLP from one LayerNorm, rotary positions on "
                  "rotary_dim dims of each head.",
                  ["The sin/cos table is a buffer of n_positions rows (embed_positions), of which the sequence's rows "
                   "are repeated per pair of rotated dims."])
    sequence_length(draft, config, "n_positions", 2048)
    draft.param("vocab_size", config.int("vocab_size", 50400))
    draft.param("n_positions", config.int("n_positions", 2048))
    hidden = config.int("n_embd", 4096)
    draft.param("n_embd", hidden)
    draft.param("n_layer", config.int("n_layer", 28))
    head_dim = _heads(draft, config, hidden, "n_head", 16)
    rotary = config.int("rotary_dim", 64)
    if rotary > head_dim or rotary % 2:
        raise config.error(f"= {rotary}: expected an even number of dims of a {head_dim}-dim head", "rotary_dim")
    draft.param("rotary_dim", rotary)
    inner = _inner(draft, config, "n_inner", "n_embd")
    _tokens(draft)

    eps = config.float("layer_norm_epsilon", 1e-5)
    resid = probability(config, "resid_pdrop", 0.0)
    act = activation(config, "activation_function", "gelu_new", name="act")
    block = mlp(draft, "GPTJMLP", act, "n_embd", inner, True, ("fc_in", "fc_out"), resid)
    attn = attention(options, "attn", "n_head", False, "ln_1", ROPE, probability(config, "attn_pdrop", 0.0), rotary=True)
    attn_part = [attn, *dropout("resid_dropout", resid)]
    body = [layer_norm("ln_1", eps, "x"), *attn_part, {"name": "mlp", "type": block, "from": "ln_1"},
            add("residual", last(attn_part), "mlp", "x")]
    layer_block(draft, "GPTJBlock", "x + attn(ln_1(x)) + mlp(ln_1(x))", body, ROPE)

    embed = [{"name": "wte", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "n_embd",
              "from": "input_ids"}, *dropout("drop", probability(config, "embd_pdrop", 0.0))]
    draft.layers = [
        *embed,
        Comment("the sin/cos table of every position; HF indexes it with the sequence's positions (a slice of L rows)"),
        {"name": "embed_positions", "type": "Buffer", "shape": ["n_positions", "rotary_dim"]},
        {"name": "rotary_emb", "type": "Slice", "dim": 0, "end": "L"},
        Comment("sin and cos, each repeated per pair of rotated dims (repeat_interleave): a (1, L, 2 * rotary_dim) table"),
        {"name": "sincos", "type": "Repeat", "repeats": [1, 1, 2]},
        stack("h", "GPTJBlock", last(embed), ["sincos"], "n_layer"),
        layer_norm("ln_f", eps),
        *head(draft, config, ("ForCausalLM",), "vocab_size", "wte", False, bias=True),
    ]
    return draft


@family("opt")
def opt(config: HFConfig, options: Options) -> Draft:
    """OPTConfig: learned positions offset by 2, pre-LayerNorm (do_layer_norm_before), ReLU MLP, biases
    (enable_bias), lm_head tied; project_in/out when word_embed_proj_dim != hidden_size."""
    pre = config.bool("do_layer_norm_before", True)
    draft = start(config, options, f"OPT: learned positions, {'pre' if pre else 'post'}-LayerNorm, multi-head attention "
                  "and a ReLU MLP with biases.")
    sequence_length(draft, config, "max_position_embeddings", 2048)
    draft.param("vocab_size", config.int("vocab_size", 50272))
    draft.param("max_position_embeddings", config.int("max_position_embeddings", 2048))
    hidden = config.int("hidden_size", 768)
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", config.int("num_hidden_layers", 12))
    _heads(draft, config, hidden, "num_attention_heads", 12)
    draft.param("ffn_dim", config.int("ffn_dim", 3072))
    projected = config.int("word_embed_proj_dim", hidden) != hidden
    width = draft.param("word_embed_proj_dim", config.int("word_embed_proj_dim")) if projected else "hidden_size"
    _tokens(draft)
    positions = _positions_input(draft, "B")

    affine = config.bool("layer_norm_elementwise_affine", True)
    bias = config.bool("enable_bias", True)
    p = probability(config, "dropout", 0.1)
    act = activation(config, "activation_function", "relu", name="activation_fn")
    attn = attention(options, "self_attn", "num_attention_heads", bias, "x" if not pre else "self_attn_layer_norm", [],
                     probability(config, "attention_dropout", 0.0))
    attn_part = [attn, *dropout("attn_output_dropout", p)]
    fc = [{"name": "fc1", "type": "Linear", "out_features": "ffn_dim", "bias": bias}, act,
          {"name": "fc2", "type": "Linear", "out_features": "hidden_size", "bias": bias}, *dropout("fc2_dropout", p)]
    norm = lambda name, source=None: layer_norm(name, 1e-5, source, affine)  # noqa: E731  nn.LayerNorm's eps
    if pre:
        body = [norm("self_attn_layer_norm", "x"), *attn_part, add("attn_residual", last(attn_part), "x"),
                norm("final_layer_norm"), *fc, add("mlp_residual", last(fc), "attn_residual")]
        layout = "x + attn(norm(x)), then + fc2(act(fc1(norm(.))))"
    else:
        body = [*attn_part, add("attn_residual", last(attn_part), "x"), norm("self_attn_layer_norm"),
                *fc, add("mlp_residual", last(fc), "self_attn_layer_norm"), norm("final_layer_norm")]
        layout = "norm(x + attn(x)), then norm(. + fc2(act(fc1(.))))"
    layer_block(draft, "OPTDecoderLayer", layout, body, [])

    top: list[Entry | Comment] = [
        {"name": "embed_tokens", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": width, "from": "input_ids"},
    ]
    if projected:
        top.append({"name": "project_in", "type": "Linear", "out_features": "hidden_size", "bias": False})
    top += [
        Comment("learned positions: 2 more rows than max_position_embeddings, the ids offset by 2"),
        {"name": "embed_positions", "type": "Embedding", "num_embeddings": "max_position_embeddings + 2",
         "embedding_dim": "hidden_size", "from": positions},
        add("embed", "project_in" if projected else "embed_tokens", "embed_positions"),
        stack("layers", "OPTDecoderLayer", "embed", [], "num_hidden_layers"),
    ]
    if pre and not config.bool("_remove_final_layer_norm", False):
        top.append(norm("final_layer_norm"))
    if projected:
        top.append({"name": "project_out", "type": "Linear", "out_features": "word_embed_proj_dim", "bias": False})
    top += head(draft, config, ("ForCausalLM",), "vocab_size", "embed_tokens", True)
    draft.layers = top
    return draft


@family("bloom")
def bloom(config: HFConfig, options: Options) -> Draft:
    """BloomConfig: ALiBi, a LayerNorm after the embedding, a 4 * hidden GELU MLP, biases, lm_head tied."""
    config = canonical(config, {"n_embed": "hidden_size", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head"})
    if config.bool("slow_but_exact", False):
        config.refuse("pretraining_tp", 1, "with slow_but_exact, splits dense and dense_4h_to_h into slices summed one "
                      "by one (the same products, more adds)")
    post_ln = config.bool("apply_residual_connection_post_layernorm", False)
    draft = start(config, options, "BLOOM: ALiBi position bias, embedding LayerNorm, pre-LayerNorm, multi-head attention "
                  "and a GELU MLP with biases.",
                  [FUSED_QKV, "HF's BloomAttention has no SDPA path: the attention is always eager (kernel: eager)."])
    draft.param("L", 2048, "sequence length (ALiBi: the config sets no maximum; BLOOM was trained on 2048)")
    draft.param("vocab_size", config.int("vocab_size", 250880))
    hidden = config.int("hidden_size", 64)
    draft.param("hidden_size", hidden)
    draft.param("n_layer", config.int("n_layer", 2))
    _heads(draft, config, hidden, "n_head", 8)
    _tokens(draft)

    eps = config.float("layer_norm_epsilon", 1e-5)
    hidden_p = probability(config, "hidden_dropout", 0.0)
    gelu = {"name": "gelu_impl", "type": "GELU", "approximate": "tanh"}  # bloom_gelu_forward: the tanh form
    block = mlp(draft, "BloomMLP", gelu, "hidden_size", "4 * hidden_size", True, ("dense_h_to_4h", "dense_4h_to_h"))
    attn = attention(options, "self_attention", "n_head", True, "input_layernorm", ["alibi"],
                     probability(config, "attention_dropout", 0.0), score_bias=True, kernel="eager")
    attn_part = [attn, *dropout("attention_dropout_add", hidden_p)]
    mlp_part = [{"name": "mlp", "type": block}, *dropout("mlp_dropout_add", hidden_p)]
    body = [layer_norm("input_layernorm", eps, "x"), *attn_part,
            add("attn_residual", last(attn_part), "input_layernorm" if post_ln else "x"),
            layer_norm("post_attention_layernorm", eps), *mlp_part,
            add("mlp_residual", last(mlp_part), "post_attention_layernorm" if post_ln else "attn_residual")]
    layout = "ln(x) + attn(ln(x)), then ln(.) + mlp(ln(.))" if post_ln else "x + attn(ln(x)), then + mlp(ln(.))"
    layer_block(draft, "BloomBlock", layout, body, ["alibi"])

    draft.layers = [
        {"name": "word_embeddings", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
         "from": "input_ids"},
        layer_norm("word_embeddings_layernorm", eps),
        {"name": "alibi", "type": "AlibiBias", "num_heads": "n_head", "from": "input_ids"},
        stack("h", "BloomBlock", "word_embeddings_layernorm", ["alibi"], "n_layer"),
        layer_norm("ln_f", eps),
        *head(draft, config, ("ForCausalLM",), "vocab_size", "word_embeddings", True),
    ]
    return draft


def _falcon_kv_heads(draft: Draft, config: HFConfig, heads: int, new_architecture: bool) -> None:
    """num_kv_heads as FalconAttention uses it: the config's with new_decoder_architecture, one with
    multi_query, else every head (query_key_value is then 3 * hidden wide)."""
    if new_architecture:
        draft.param("num_kv_heads", config.int("num_kv_heads", heads), "key/value head groups")
    elif config.bool("multi_query", True):
        draft.param("num_kv_heads", 1, "multi_query: one key/value head shared by all heads")
    else:
        draft.param("num_kv_heads", heads, "multi_query false: a key/value head per head")


@family("falcon")
def falcon(config: HFConfig, options: Options) -> Draft:
    """FalconConfig: multi-query, parallel attention and MLP from one LayerNorm, rotary, no biases, lm_head
    tied; new_decoder_architecture: grouped key/values and two LayerNorms (num_ln_in_parallel_attn);
    alibi (Falcon-RW): an ALiBi score bias instead of rotary positions."""
    config = canonical(config, {"n_embed": "hidden_size"})
    alibi = config.bool("alibi", False)
    new_arch = config.bool("new_decoder_architecture", False)
    parallel = config.bool("parallel_attn", True)
    norms = config.choice("num_ln_in_parallel_attn", (1, 2), 2 if new_arch else 1)
    if new_arch and not parallel:
        raise config.error("= False with new_decoder_architecture: HF's FalconDecoderLayer then reads layer norms it did "
                           "not build; the converter builds parallel_attn true there", "parallel_attn")
    if norms == 2 and not new_arch and parallel:
        raise config.error("= 2 without new_decoder_architecture: HF's FalconDecoderLayer then runs an input_layernorm it "
                           "did not build; the converter builds 1 there", "num_ln_in_parallel_attn")
    notes = [FUSED_QKV]
    if alibi:
        notes.append("alibi: HF's FalconModel still builds and runs its rotary module (head_dim buffers, cos/sin "
                     "FLOPs) without using it; it is left out here.")
    if new_arch:
        notes.append("new_decoder_architecture: HF 5.24 broadcasts each key/value group to its query heads before "
                     "caching, so its KV cache holds num_attention_heads heads; the cache counted here holds the "
                     "num_kv_heads groups the weights produce.")
    layout = ("x + attn(ln(x)) + mlp(ln(x))" if parallel and norms == 1 else
              "x + attn(ln_attn(x)) + mlp(ln_mlp(x))" if parallel else "x + attn(ln(x)), then + mlp(ln(.))")
    draft = start(config, options, f"Falcon: {'ALiBi' if alibi else 'rotary'} positions, {'grouped' if new_arch else 'multi-query'} attention, "
                  f"{'parallel' if parallel else 'sequential'} attention and GELU MLP with LayerNorm.", notes)
    sequence_length(draft, config, "max_position_embeddings", 2048)
    draft.param("vocab_size", config.int("vocab_size", 65024))
    hidden = config.int("hidden_size", 4544)
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", config.int("num_hidden_layers", 32))
    head_dim = _heads(draft, config, hidden, "num_attention_heads", 71)
    heads = config.int("num_attention_heads", 71)
    _falcon_kv_heads(draft, config, heads, new_arch)
    draft.param("head_dim", head_dim, "hidden_size // num_attention_heads")
    ffn = _inner(draft, config, "ffn_hidden_size", "hidden_size")
    _tokens(draft)

    eps = config.float("layer_norm_epsilon", 1e-5)
    bias = config.bool("bias", False)
    hidden_p = probability(config, "hidden_dropout", 0.0)
    act = activation(config, "activation", "gelu", name="act")
    block = mlp(draft, "FalconMLP", act, "hidden_size", ffn, bias, ("dense_h_to_4h", "dense_4h_to_h"))
    first = "input_layernorm" if norms == 1 or not parallel else "ln_attn"
    positions = ["alibi"] if alibi else ROPE
    # only the ALiBi path drops out attention probabilities (the rotary one runs sdpa with dropout_p 0, or no dropout)
    attn = attention(options, "self_attention", "num_attention_heads", bias, first, positions,
                     probability(config, "attention_dropout", 0.0) if alibi else 0.0, num_kv_heads="num_kv_heads",
                     head_dim="head_dim", **({"score_bias": True} if alibi else {"rotary": True}))
    mlp_use = {"name": "mlp", "type": block}
    out_dropout = dropout("hidden_dropout", hidden_p)
    if parallel:
        mlp_in = [layer_norm("ln_mlp", eps, "x")] if norms == 2 else []
        mlp_use["from"] = mlp_in[-1]["name"] if mlp_in else first
        # HF adds the attention to the MLP's output, then drops out the sum (hidden_dropout) before the residual
        joined = [add("attn_mlp", "mlp", "self_attention"), *out_dropout, add("residual", last(out_dropout), "x")] \
            if out_dropout else [add("residual", "mlp", "self_attention", "x")]
        body = [layer_norm(first, eps, "x"), attn, *mlp_in, mlp_use, *joined]
    else:
        # sequential: HF drops out the attention's output with attention_dropout before its residual add
        attn_part = [attn, *dropout("attention_dropout_add", probability(config, "attention_dropout", 0.0))]
        mlp_part = [mlp_use, *out_dropout]
        body = [layer_norm(first, eps, "x"), *attn_part, add("attention_residual", last(attn_part), "x"),
                layer_norm("post_attention_layernorm", eps), *mlp_part, add("mlp_residual", last(mlp_part), "attention_residual")]
    layer_block(draft, "FalconDecoderLayer", layout, body, positions)
    table = {"name": "alibi", "type": "AlibiBias", "num_heads": "num_attention_heads", "from": "input_ids"} if alibi \
        else _rotary_table(config, "head_dim")

    draft.layers = [
        {"name": "word_embeddings", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
         "from": "input_ids"},
        table,
        stack("h", "FalconDecoderLayer", "word_embeddings", [table["name"]], "num_hidden_layers"),
        layer_norm("ln_f", eps),
        *head(draft, config, ("ForCausalLM",), "vocab_size", "word_embeddings", True),
    ]
    return draft


@family("starcoder2")
def starcoder2(config: HFConfig, options: Options) -> Draft:
    """Starcoder2Config: grouped-query attention over a sliding window, rotary, LayerNorm, a plain GELU MLP,
    biases (use_bias), lm_head tied."""
    draft = start(config, options, "StarCoder2: grouped-query attention (sliding window when set), rotary positions, "
                  "pre-LayerNorm, a GELU MLP, biases.")
    sequence_length(draft, config, "max_position_embeddings", 4096)
    draft.param("vocab_size", config.int("vocab_size", 49152))
    hidden = config.int("hidden_size", 3072)
    draft.param("hidden_size", hidden)
    draft.param("num_hidden_layers", config.int("num_hidden_layers", 30))
    head_dim = _heads(draft, config, hidden, "num_attention_heads", 24, explicit=True)
    draft.param("num_key_value_heads", config.int("num_key_value_heads", 2))
    draft.param("head_dim", head_dim)
    draft.param("intermediate_size", config.int("intermediate_size", 12288))
    window = config.int("sliding_window", 0, minimum=0)
    fields = {"num_kv_heads": "num_key_value_heads", "head_dim": "head_dim", "rotary": True}
    if window:
        draft.param("sliding_window", window, "tokens each query sees (every layer)")
        fields["window"] = "sliding_window"
    _tokens(draft)

    eps = config.float("norm_epsilon", 1e-5)
    bias = config.bool("use_bias", True)
    resid = probability(config, "residual_dropout", 0.0)
    act = activation(config, "hidden_act", "gelu_pytorch_tanh", name="act")
    block = mlp(draft, "Starcoder2MLP", act, "hidden_size", "intermediate_size", bias, ("c_fc", "c_proj"), resid,
                dropout_name="residual_dropout")
    attn_part = [attention(options, "self_attn", "num_attention_heads", bias, "input_layernorm", ROPE,
                           probability(config, "attention_dropout", 0.0), **fields), *dropout("residual_dropout", resid)]
    body = [layer_norm("input_layernorm", eps, "x"), *attn_part, add("attn_residual", last(attn_part), "x"),
            layer_norm("post_attention_layernorm", eps), {"name": "mlp", "type": block},
            add("mlp_residual", "mlp", "attn_residual")]
    layer_block(draft, "Starcoder2DecoderLayer", "x + attn(norm(x)), then + mlp(norm(.))", body, ROPE)

    embed = [{"name": "embed_tokens", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
              "from": "input_ids"}, *dropout("embedding_dropout", probability(config, "embedding_dropout", 0.0))]
    draft.layers = [
        *embed,
        _rotary_table(config, "head_dim"),
        stack("layers", "Starcoder2DecoderLayer", last(embed), ["rotary_emb"], "num_hidden_layers"),
        layer_norm("norm", eps),
        *head(draft, config, ("ForCausalLM",), "vocab_size", "embed_tokens", True),
    ]
    return draft
