"""Mamba (transformers 5.24.0 MambaConfig defaults): pre-RMSNorm residual layers of the selective
state-space mixer, no attention; the inference state per layer is a conv state and an SSM state."""

from __future__ import annotations

import math

from archspec.importers.draft import Block, Draft
from archspec.importers.hf import Options, family
from archspec.importers.hf.config import HFConfig
from archspec.importers.hf.decoder import with_defaults
from archspec.importers.hf.parts import has_head, header, lm_head, rms_norm

DEFAULT_LENGTH = 4096  # Mamba has no max_position_embeddings: its state does not grow with the sequence


def time_step_rank(config: HFConfig) -> int:
    """dt_proj's rank: an integer, or "auto" for ceil(hidden_size / 16)."""
    if config.raw("time_step_rank", "auto") == "auto":
        return math.ceil(config.int("hidden_size") / 16)
    return config.int("time_step_rank")


def mixer_expand(draft: Draft, config: HFConfig) -> str:
    """The mixer's width as a multiple of hidden_size: expand, unless the config's intermediate_size says
    otherwise (MambaConfig computes expand * hidden_size, but a stored intermediate_size is set after it)."""
    hidden, expand = config.int("hidden_size"), config.int("expand")
    inner = config.int("intermediate_size", expand * hidden)
    if inner == expand * hidden:
        return draft.param("expand", expand, "intermediate_size = expand * hidden_size")
    if inner % hidden:
        raise config.error(f"= {inner} is not a multiple of hidden_size ({hidden}); the Mamba layer's width is a multiple "
                           "of the model's", "intermediate_size")
    draft.param("intermediate_size", inner, f"the mixer's width; the config's, not expand * hidden_size ({expand * hidden})")
    return "intermediate_size // hidden_size"


@family("mamba")
def mamba(config: HFConfig, options: Options) -> Draft:
    """MambaConfig: intermediate_size is always expand * hidden_size (the key is overwritten), the mixer's
    activation is SiLU, in_proj/out_proj biases with use_bias, the conv's with use_conv_bias."""
    config = with_defaults(config, vocab_size=50280, hidden_size=768, state_size=16, num_hidden_layers=32,
                           layer_norm_epsilon=1e-5, expand=2, conv_kernel=4)
    config.choice("hidden_act", ("silu", "swish"), "silu")  # the mixer's gate and conv activation
    eps = config.float("layer_norm_epsilon")
    description = "Mamba: pre-RMSNorm residual layers of the selective state-space mixer; no attention."
    notes = ["The mixer's backward keeps what mamba_ssm's fused kernels keep; kernel: torch on the mixer reproduces "
             "HF's reference path without them (every state of the scan)."]
    draft = Draft(name=options.name or config.model_type, description=description,
                  header=header(config, description, notes))
    draft.param("B", 1, "batch")
    draft.param("L", DEFAULT_LENGTH, "sequence length (Mamba has no max_position_embeddings)")
    draft.param("vocab_size", config.int("vocab_size"))
    draft.param("hidden_size", config.int("hidden_size"))
    draft.param("num_hidden_layers", config.int("num_hidden_layers"))
    draft.param("state_size", config.int("state_size"))
    draft.param("conv_kernel", config.int("conv_kernel"))
    expand = mixer_expand(draft, config)
    draft.param("time_step_rank", time_step_rank(config), "dt_proj's rank" + (
        "" if config.has("time_step_rank") and config.raw("time_step_rank") != "auto" else " (auto: ceil(hidden_size / 16))"))
    draft.inputs["input_ids"] = {"shape": ["B", "L"], "dtype": "int64"}

    mixer = {"name": "mixer", "type": "Mamba", "d_state": "state_size", "d_conv": "conv_kernel", "expand": expand,
             "dt_rank": "time_step_rank"}
    if config.bool("use_bias", False):
        mixer["bias"] = True
    if not config.bool("use_conv_bias", True):
        mixer["conv_bias"] = False
    draft.blocks["MambaBlock"] = Block(comment="x + mixer(norm(x))", layers=[
        rms_norm("norm", eps),
        mixer,
        {"name": "residual", "type": "Add", "from": ["mixer", "input"]},
    ])
    draft.layers = [
        {"name": "embeddings", "type": "Embedding", "num_embeddings": "vocab_size", "embedding_dim": "hidden_size",
         "from": "input_ids"},
        {"name": "layers", "type": "MambaBlock", "repeat": "num_hidden_layers"},
        rms_norm("norm_f", eps),
    ]
    if has_head(config, "ForCausalLM"):
        draft.layers.append(lm_head(draft, config, "vocab_size", "embeddings", tie_default=True))
    return draft
