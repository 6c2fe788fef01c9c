"""Measure reference figures for torchvision vision models; write vision_zoo_measured.json.

Not run by the tests: it needs torch, torchvision and the FLOP-counting peers
(see the "about" of vision_zoo_measured.json for the exact versions). Run it in a
scratch venv outside the repo, e.g.

    python3 -m venv /work/tvvenv && . /work/tvvenv/bin/activate
    pip install torch==2.14.1 torchvision==0.29.1
    pip install ultralytics-thop==2.2.3 ptflops==0.7.5 fvcore==0.1.5.post20221221 numpy
    python tests/reference/measure_vision_zoo.py            # every model
    python tests/reference/measure_vision_zoo.py swin_t maxvit_t   # some of them

Each model's record is merged into the JSON file as soon as it is measured, so
the models can be run one at a time. For every model (torchvision builder,
weights=None, eval(), batch 1, float32 on the CPU) it records:

* params / buffers (buffers also grouped by the last part of their name);
* the published figures of every weights enum entry (meta["num_params"],
  meta["_ops"] in GFLOPS as torchvision prints them, and the crop size of the
  entry's transforms, which is the resolution _ops refers to);
* the forward output shape(s);
* the peers, run the way measure_peers.py runs them: thop.profile (macs,
  params); ptflops get_model_complexity_info(as_strings=False) with backend
  'pytorch' (macs, params) and 'aten' (macs, params); fvcore
  FlopCountAnalysis(model, x).total(), .by_operator(), .unsupported_ops();
  torch.utils.flop_counter.FlopCounterMode for a no-grad forward (total and
  per operator). Raw values are kept (thop and ptflops may return floats;
  fvcore's einsum handler returns floats);
* for the models in DETAILED, per-module-pattern breakdowns of fvcore and
  FlopCounterMode and conv/linear MACs from forward hooks on nn.Conv*/nn.Linear;
* a compact architecture summary (see the arch_* functions);
* conv_linear_matmul_macs: fvcore's conv + linear + matmul MACs with einsum
  counted exactly (and, for vit_l_16, the sdpa products fvcore skips), and
  whether that figure / 1e9, rounded to 3 decimals, equals the published _ops
  at the same resolution (it does for every model measured here);
* peer_notes where a peer counts a model differently, and why.

nn.MultiheadAttention's fast path is disabled (torch.backends.mha.set_fastpath_enabled(False)).
"""
import contextlib
import datetime
import gc
import inspect
import io
import json
import logging
import math
import os
import re
import sys
import warnings
from collections import Counter, defaultdict

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

import torch
import torch.nn as nn
import torchvision
import torchvision.models as M
import thop
from fvcore.nn import FlopCountAnalysis
from ptflops import get_model_complexity_info
from torch.utils.flop_counter import FlopCounterMode, flop_registry
from importlib.metadata import version

torch.backends.mha.set_fastpath_enabled(False)
torch.set_num_threads(2)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vision_zoo_measured.json")
TV_ROOT = os.path.dirname(os.path.dirname(torchvision.__file__))


def _regnet_size(name):
    """'regnet_y_1_6gf' -> ('y', 1.6), 'regnet_x_400mf' -> ('x', 0.4): order the builders by family, then size."""
    fam, size = name.split("_")[1], name.split("_", 2)[2]
    return fam, float(size[:-2].replace("_", ".")) * (1e-3 if size.endswith("mf") else 1)


REGNETS = sorted((n for n in M.list_models(module=M) if n.startswith(("regnet_x_", "regnet_y_"))), key=_regnet_size)

# name -> (builder name, builder kwargs, input shape)
MODELS = {
    "swin_t": ("swin_t", {}, [1, 3, 224, 224]),
    "swin_t@256": ("swin_t", {}, [1, 3, 256, 256]),
    "swin_s": ("swin_s", {}, [1, 3, 224, 224]),
    "swin_b": ("swin_b", {}, [1, 3, 224, 224]),
    "maxvit_t": ("maxvit_t", {}, [1, 3, 224, 224]),
    "inception_v3": ("inception_v3", {"aux_logits": True, "init_weights": False}, [1, 3, 299, 299]),
    "efficientnet_v2_s": ("efficientnet_v2_s", {}, [1, 3, 384, 384]),
    "efficientnet_v2_m": ("efficientnet_v2_m", {}, [1, 3, 480, 480]),
    "efficientnet_v2_l": ("efficientnet_v2_l", {}, [1, 3, 480, 480]),
    **{n: (n, {}, [1, 3, 224, 224]) for n in REGNETS},
    "mobilenet_v3_small": ("mobilenet_v3_small", {}, [1, 3, 224, 224]),
    "r3d_18": ("r3d_18", {}, [1, 3, 16, 112, 112]),
    "fcn_resnet50": ("fcn_resnet50", {"aux_loss": True, "weights_backbone": None}, [1, 3, 520, 520]),
    "vit_l_16": ("vit_l_16", {}, [1, 3, 224, 224]),
}
DETAILED = {"swin_t", "swin_t@256", "maxvit_t"}


def quiet(fn):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn()


def pattern(name):
    """'features.1.0.attn.qkv' -> 'features.*.*.attn.qkv'"""
    return re.sub(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)", "*", name)


def shapes(out):
    if isinstance(out, torch.Tensor):
        return list(out.shape)
    if isinstance(out, dict):
        return {k: shapes(v) for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return [shapes(v) for v in out]
    return repr(type(out))


def quote(obj, regex=None):
    """Source lines of obj as 'path:line: text' (only those matching regex, if given)."""
    lines, start = inspect.getsourcelines(obj)
    path = os.path.relpath(inspect.getsourcefile(obj), TV_ROOT)
    return [f"{path}:{start + i}: {l.rstrip()}" for i, l in enumerate(lines) if regex is None or re.search(regex, l)]


# ---------------------------------------------------------------- counts

def param_buffer_counts(m):
    r = {"params": sum(p.numel() for p in m.parameters())}
    by = defaultdict(lambda: {"count": 0, "numel": 0, "dtypes": set()})
    for n, b in m.named_buffers():
        e = by[n.rsplit(".", 1)[-1]]
        e["count"] += 1; e["numel"] += b.numel(); e["dtypes"].add(str(b.dtype).replace("torch.", ""))
    r["buffers"] = sum(b.numel() for b in m.buffers())
    r["buffers_by_name"] = {k: {"count": v["count"], "numel": v["numel"], "dtypes": sorted(v["dtypes"])} for k, v in sorted(by.items())}
    r["params_trainable"] = sum(p.numel() for p in m.parameters() if p.requires_grad)
    return r


def published(builder):
    try:
        enum = M.get_model_weights(builder)
    except Exception as e:
        return {"error": repr(e)}
    entries = {}
    for w in enum:
        t = w.transforms
        kw = dict(getattr(t, "keywords", {}) or {})
        entries[w.name] = {
            "num_params": w.meta.get("num_params"),
            "_ops": w.meta.get("_ops"),
            "_ops_repr": repr(w.meta.get("_ops")),
            "_file_size": w.meta.get("_file_size"),
            "min_size": list(w.meta["min_size"]) if "min_size" in w.meta else None,
            "transforms": getattr(getattr(t, "func", t), "__name__", repr(t)),
            "crop_size": kw.get("crop_size"),
            "resize_size": kw.get("resize_size"),
        }
        # the resolution _ops refers to: the crop, or for segmentation (no crop) the resize
        res = kw.get("crop_size") or kw.get("resize_size")
        entries[w.name]["resolution"] = list(res) if isinstance(res, (tuple, list)) else [res, res]
    return {"enum": enum.__name__, "default": enum.DEFAULT.name, "entries": entries}


def conv_linear_hooks(m):
    """Forward hooks on nn.Conv*/nn.Linear: MACs = out numel * in/groups * taps, rows * in * out."""
    tally = []
    handles = []

    def hook(mod, inp, out, name):
        if isinstance(mod, nn.Linear):
            rows = inp[0].numel() // mod.in_features
            macs = rows * mod.in_features * mod.out_features
        else:
            macs = out.numel() * (mod.in_channels // mod.groups) * math.prod(mod.kernel_size)
        tally.append((name, type(mod).__name__, macs))

    for name, mod in m.named_modules():
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            handles.append(mod.register_forward_hook(lambda mod, i, o, name=name: hook(mod, i, o, name)))
    return tally, handles


def summarise_hooks(m, tally):
    by_type, by_pat = Counter(), Counter()
    for name, typ, macs in tally:
        by_type[typ] += macs; by_pat[f"{pattern(name)} ({typ})"] += macs
    called = {n for n, _, _ in tally}
    never = [n for n, mod in m.named_modules() if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) and n not in called]
    return {
        "total": sum(by_type.values()),
        "by_module_type": dict(by_type),
        "by_name_pattern": dict(sorted(by_pat.items())),
        "modules_never_called_through_forward": sorted(Counter(pattern(n) for n in never).items()),
    }


def peers(m, x, detailed):
    r = {}
    macs, prm = quiet(lambda: thop.profile(m, inputs=(x,), verbose=False))
    r["thop_macs"], r["thop_params"] = macs, prm
    for backend in ("pytorch", "aten"):
        try:
            mac, p = quiet(lambda: get_model_complexity_info(
                m, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False,
                backend=backend, input_constructor=lambda res: x))
            r[f"ptflops_{backend}_macs"], r[f"ptflops_{backend}_params"] = mac, p
        except Exception as e:
            r[f"ptflops_{backend}_macs"] = f"error: {type(e).__name__}: {e}"
    try:
        fca = FlopCountAnalysis(m, x); fca.unsupported_ops_warnings(False); fca.uncalled_modules_warnings(False)
        r["fvcore_flops"] = quiet(fca.total)
        r["fvcore_by_operator"] = dict(fca.by_operator())
        r["fvcore_unsupported_ops"] = dict(fca.unsupported_ops())
        if detailed:
            agg = defaultdict(Counter)
            for mod, ops in fca.by_module_and_operator().items():
                for op, v in ops.items():
                    agg[pattern(mod) or "<model>"][op] += v
            r["fvcore_by_module_pattern"] = {k: dict(v) for k, v in sorted(agg.items())}
    except Exception as e:
        r["fvcore_flops"] = f"error: {type(e).__name__}: {str(e)[:300]}"
    with torch.no_grad(), FlopCounterMode(display=False) as f:
        m(x)
    r["flopcounter_flops"] = f.get_total_flops()
    counts = f.get_flop_counts()
    r["flopcounter_by_operator"] = {str(k): v for k, v in counts.get("Global", {}).items()}
    if detailed:
        agg = defaultdict(Counter)
        for mod, ops in counts.items():
            if mod == "Global":
                continue
            key = pattern(mod.split(".", 1)[1]) if "." in mod else "<model>"
            for op, v in ops.items():
                agg[key][str(op)] += v
        r["flopcounter_by_module_pattern"] = {k: dict(v) for k, v in sorted(agg.items())}
    return r


# ---------------------------------------------------------------- architecture summaries

def arch_regnet(builder, m, captured):
    bp, init = captured["params"], captured["init"]
    stages = []
    for i, (w, s, d, g, b) in enumerate(bp._get_expanded_params()):
        blocks = list(getattr(m.trunk_output, f"block{i + 1}").children())
        se = [blk.f.se.fc1.out_channels if hasattr(blk.f, "se") else None for blk in blocks]
        stages.append({
            "depth": d, "width": w, "group_width": g, "bottleneck_multiplier": b, "stride": s,
            "se_ratio": bp.se_ratio,
            "bottleneck_width_w_b": blocks[0].f.b[0].out_channels,
            "groups": blocks[0].f.b[0].groups,
            "se_squeeze_channels_first_block_then_rest": [se[0], se[1] if len(se) > 1 else None],
        })
    return {
        "from_init_params": init,
        "stem": {"type": "SimpleStemIN 3x3 stride 2 conv+BN+ReLU", "width": m.stem[0].out_channels},
        "stages": stages,
        "head": {"avgpool": "AdaptiveAvgPool2d(1)", "fc": [m.fc.in_features, m.fc.out_features]},
        "notes": "block = 1x1 a -> 3x3 grouped b (stride on b) [-> SE on w_b with squeeze round(se_ratio * width_in), width_in = block input width] -> 1x1 c; projection 1x1+BN shortcut when width or stride changes.",
        "source": quote(M.regnet.BottleneckTransform.__init__, r"w_b =|g =|width_se_out|se_ratio \*"),
    }


def arch_efficientnet_v2(builder, m):
    setting, last_channel = M.efficientnet._efficientnet_conf(builder)
    stages = []
    for cnf, stage in zip(setting, list(m.features)[1:-1]):
        stages.append({
            "block": type(cnf).__name__.replace("Config", ""), "fused": type(cnf).__name__.startswith("Fused"),
            "expand_ratio": cnf.expand_ratio, "kernel": cnf.kernel, "stride": cnf.stride,
            "input_channels": cnf.input_channels, "out_channels": cnf.out_channels, "layers": cnf.num_layers,
            "built_blocks": len(stage),
            "se_squeeze_channels_first_block": (stage[0].block[-2].fc1.out_channels if not type(cnf).__name__.startswith("Fused") else None),
        })
    sd = [blk.stochastic_depth.p for stage in list(m.features)[1:-1] for blk in stage]
    return {
        "stem": {"conv": "3x3 stride 2", "out_channels": m.features[0][0].out_channels},
        "stages": stages,
        "last_channel": last_channel, "head_conv_out": m.features[-1][0].out_channels,
        "stochastic_depth_prob": {"first_block": sd[0], "last_block": sd[-1], "rule": "stochastic_depth_prob(0.2) * block_id / total_blocks"},
        "dropout": m.classifier[0].p, "bn_eps": m.features[0][1].eps,
        "notes": "MBConv SE squeeze = max(1, input_channels // 4) on the expanded width; FusedMBConv has no SE; expand_ratio 1 fused block = single 3x3 conv+BN+SiLU.",
    }


def arch_swin(builder, m, runtime):
    stages = []
    for i in range(0, len(m.features), 2):
        stage = m.features[i + 1]
        b0 = stage[0]
        stages.append({
            "depth": len(stage), "dim": b0.norm1.normalized_shape[0], "heads": b0.attn.num_heads,
            "window_size": b0.attn.window_size, "shift_sizes": [blk.attn.shift_size for blk in stage][:2],
            "mlp_hidden": b0.mlp[0].out_features,
            "relative_position_bias_table": list(b0.attn.relative_position_bias_table.shape),
            "relative_position_index": list(b0.attn.relative_position_index.shape),
            "runtime_first_two_blocks": runtime[i // 2],
        })
    sd = [blk.stochastic_depth.p for i in range(1, len(m.features), 2) for blk in m.features[i]]
    SW = M.swin_transformer
    return {
        "patch_size": list(m.features[0][0].kernel_size), "embed_dim": m.features[0][0].out_channels,
        "depths": [s["depth"] for s in stages], "num_heads": [s["heads"] for s in stages],
        "window_size": stages[0]["window_size"], "stages": stages,
        "stochastic_depth": {"first": sd[0], "last": sd[-1]},
        "patch_merging": "PatchMerging: pad H,W to even, cat 4 neighbours -> LayerNorm(4C) -> Linear(4C, 2C, bias=False)",
        "padding_rule": "shifted_window_attention pads the (B,H,W,C) map on the right/bottom to a multiple of the window, runs attention on the padded map (padded tokens take part in qkv/attention/proj), then crops back; when window >= padded size the shift is set to 0; relative position bias is a gather of the table by relative_position_index (no FLOPs), added to every window's logits.",
        "source_shifted_window_attention": quote(SW.shifted_window_attention, r"pad|>= pad_|shift_size\[\d\] = 0|num_windows =|attn \+ relative_position_bias|F\.linear|matmul"),
        "source_get_relative_position_bias": quote(SW._get_relative_position_bias),
        "source_define_relative_position_index": quote(SW.ShiftedWindowAttention.define_relative_position_index),
        "source_define_relative_position_bias_table": quote(SW.ShiftedWindowAttention.define_relative_position_bias_table),
        "source_patch_merging_pad": quote(SW._patch_merging_pad),
    }


def arch_maxvit(m, runtime):
    MV = M.maxvit
    blocks = []
    for bi, blk in enumerate(m.blocks):
        layers = []
        for li, layer in enumerate(blk.layers):
            mb, win, grid = layer.layers.MBconv, layer.layers.window_attention, layer.layers.grid_attention
            layers.append({
                "mbconv": {"in": mb.layers.conv_a[0].in_channels, "mid": mb.layers.conv_a[0].out_channels,
                           "out": mb.layers.conv_c.out_channels, "stride": mb.layers.conv_b[0].stride[0],
                           "se_squeeze": mb.layers.squeeze_excitation.fc1.out_channels,
                           "proj": type(mb.proj).__name__ if isinstance(mb.proj, nn.Identity) else [type(c).__name__ for c in mb.proj]},
                "window": {"p": win.p, "g": win.g, "grid_size": list(win.grid_size), "heads": win.n_heads},
                "grid": {"p": grid.p, "g": grid.g, "grid_size": list(grid.grid_size), "heads": grid.n_heads},
            })
        blocks.append({"layers": len(blk.layers), "first_layer": layers[0], "other_layers": layers[1] if len(layers) > 1 else None})
    attn = [a for a in m.modules() if isinstance(a, MV.RelativePositionalMultiHeadAttention)]
    return {
        "stem": {"channels": m.stem[0][0].out_channels, "layers": "3x3 s2 conv(no bias)+BN+GELU, 3x3 s1 conv(bias)"},
        "block_channels": [b["first_layer"]["mbconv"]["out"] for b in blocks],
        "block_layers": [b["layers"] for b in blocks],
        "partition_size": m.partition_size, "head_dim": attn[0].head_dim,
        "expansion_ratio": 4, "squeeze_ratio": 0.25, "mlp_ratio": m.blocks[0].layers[0].layers.window_attention.mlp_layer[1].out_features // m.blocks[0].layers[0].layers.window_attention.mlp_layer[1].in_features,
        "blocks": blocks,
        "attention_modules": len(attn),
        "relative_position_bias_table_shapes": sorted(Counter(str(list(a.relative_position_bias_table.shape)) for a in attn).items()),
        "relative_position_index_shape": list(attn[0].relative_position_index.shape),
        "relative_position_index_dtype": str(attn[0].relative_position_index.dtype),
        "scale_factor": "feat_dim ** -0.5 (the full channel width, not head_dim), applied to k",
        "attention_input_shapes_B_G_P_D": runtime,
        "einsum_macs_exact": sum(2 * B * G * P * P * D * n for (B, G, P, D), n in runtime),
        "einsum_macs_as_fvcore_counts": sum(2 * n * int(float(f"{2 * B * G * P * P * D:.3e}") // 2) for (B, G, P, D), n in runtime),
        "classifier": [type(c).__name__ for c in m.classifier],
        "notes": "MBConv: pre-BN -> 1x1 expand (x4, BN, GELU) -> 3x3 depthwise (stride, BN, GELU) -> SE(mid -> int(out*0.25) -> mid, SiLU) -> 1x1 conv (bias); proj shortcut = AvgPool3x3s2 + 1x1 conv when stride 2 / channels change. Attention uses torch.einsum for q.k and attn.v.",
        "source_attention": quote(MV.RelativePositionalMultiHeadAttention.forward, r"einsum|scale|pos_bias|softmax"),
        "source_relative_position_index": quote(MV._get_relative_position_index),
        "source_bias_table": quote(MV.RelativePositionalMultiHeadAttention.__init__, r"relative_position|scale_factor"),
    }


def arch_inception(m):
    aux = m.AuxLogits
    return {
        "aux_branch_layers": {n: repr(c) for n, c in aux.named_children()},
        "aux_branch_forward": quote(M.inception.InceptionAux.forward, r"x = "),
        "aux_branch_params": sum(p.numel() for p in aux.parameters()),
        "aux_runs_in_eval": False,
        "aux_gate": quote(M.inception.Inception3._forward, r"AuxLogits|self\.training"),
        "transform_input": m.transform_input,
        "notes": "AuxLogits sits after Mixed_6e (768x17x17 at 299); it runs only when self.training. inception_v3(weights=None) keeps transform_input=False.",
    }


def arch_fcn(m):
    return {
        "backbone": "resnet50, replace_stride_with_dilation=[False, True, True] (output stride 8), layer4 -> 'out', layer3 -> 'aux'",
        "classifier": {n: repr(c) for n, c in m.classifier.named_children()},
        "aux_classifier": {n: repr(c) for n, c in m.aux_classifier.named_children()},
        "num_classes": m.classifier[-1].out_channels,
        "upsample": "F.interpolate(bilinear, align_corners=False) of each head output back to the input size",
    }


def arch_mobilenet_v3_small(m):
    setting, last = M.mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small")
    return {
        "stem": {"out_channels": m.features[0][0].out_channels, "conv": "3x3 s2 + BN + Hardswish"},
        "inverted_residual_setting": [{"in": c.input_channels, "kernel": c.kernel, "expanded": c.expanded_channels, "out": c.out_channels,
                                       "se": c.use_se, "activation": "HS" if c.use_hs else "RE", "stride": c.stride, "dilation": c.dilation} for c in setting],
        "last_conv_out": m.features[-1][0].out_channels, "last_channel": last,
        "classifier": [repr(c) for c in m.classifier],
        "notes": "SE squeeze = _make_divisible(expanded // 4, 8), Hardsigmoid gate; blocks with expanded == in have no 1x1 expand conv.",
    }


def arch_r3d(m):
    return {
        "stem": repr(m.stem),
        "layers": [len(getattr(m, f"layer{i}")) for i in range(1, 5)],
        "block": type(m.layer1[0]).__name__,
        "widths": [getattr(m, f"layer{i}")[0].conv2[0].out_channels for i in range(1, 5)],
        "conv_builder": "Conv3DSimple (3x3x3), stride 2 (all of T,H,W) at the first block of layers 2-4 with 1x1x1 conv+BN downsample",
        "head": ["AdaptiveAvgPool3d((1,1,1))", repr(m.fc)],
    }


def arch_vit(m):
    l0 = m.encoder.layers[0]
    return {
        "patch_size": m.patch_size, "image_size": m.image_size, "hidden_dim": m.hidden_dim, "mlp_dim": m.mlp_dim,
        "num_layers": len(m.encoder.layers), "num_heads": l0.self_attention.num_heads, "seq_length": m.seq_length,
        "class_token": True, "pos_embedding": list(m.encoder.pos_embedding.shape),
        "heads": [repr(c) for c in m.heads],
        "attention": "nn.MultiheadAttention(batch_first=True), called with need_weights=False (fast path disabled), so F.multi_head_attention_forward runs F.scaled_dot_product_attention, which on the CPU dispatches to aten._scaled_dot_product_flash_attention_for_cpu: FlopCounterMode has no formula for that op (it counts the CUDA flash/efficient/cudnn variants), fvcore lists aten::scaled_dot_product_attention as unsupported, and ptflops' aten backend does not count it either",
        "attention_matmul_macs_analytic": 2 * len(m.encoder.layers) * m.seq_length * m.seq_length * m.hidden_dim,
        "flopcounter_sdpa_registered": sorted(str(k) for k in flop_registry if "attention" in str(k)),
    }


# What the peers do differently on these models (checked against the peers' sources and the figures below).
PEER_NOTES = {
    "swin": "Swin's ShiftedWindowAttention calls F.linear with attn.qkv/attn.proj weights inside shifted_window_attention, so no module hook fires for them: "
            "ptflops 0.7.5's pytorch backend has its F.linear patch commented out (pytorch_engine.patch_functional) and misses qkv+proj; thop 2.2.3 counts them "
            "through its TorchFunctionMode (F.linear as a matmul, bias not counted). qkv, q@k^T, attn@v and proj run on the window-padded map (see architecture).",
    "maxvit_t": "Attention uses torch.einsum: fvcore's einsum handler (equation 'abcde,abcfe->abcdf' after letter remapping) takes numpy.einsum_path's "
                "'Optimized FLOP count' printed with 4 significant digits, halved and floored, so fvcore's einsum total is rounded (see architecture.einsum_macs_exact "
                "vs einsum_macs_as_fvcore_counts) and is a float; ptflops 0.7.5's pytorch backend has no torch.einsum rule and misses it; thop 2.2.3 and FlopCounterMode (bmm) count it exactly.",
    "r3d_18": "torchvision's Conv3DSimple subclasses nn.Conv3d; ptflops 0.7.5's pytorch backend looks hooks up by exact type(module) in MODULES_MAPPING, so every Conv3DSimple "
              "is skipped and only the stem and downsample nn.Conv3d, BN, ReLU, pool and fc are counted; the aten backend, thop (isinstance-style lookup), fvcore and FlopCounterMode count them.",
    "vit_l_16": "Attention runs F.scaled_dot_product_attention (need_weights=False); on the CPU it dispatches to aten._scaled_dot_product_flash_attention_for_cpu, which "
                "FlopCounterMode has no formula for, fvcore reports as unsupported (aten::scaled_dot_product_attention) and ptflops' aten backend does not count; "
                "thop 2.2.3 (its multi_head_attention_forward / sdpa rules) and ptflops' pytorch backend (nn.MultiheadAttention hook) include the q@k^T and attn@v products.",
    "inception_v3": "AuxLogits is built (aux_logits=True) and its parameters are in every params figure (thop, ptflops, torchvision's num_params), but in eval() it does not run, so no MAC figure includes it.",
    "fcn_resnet50": "The aux classifier runs in eval() too (FCN computes 'aux' whenever aux_classifier is set), so every MAC figure and torchvision's _ops include it; fvcore traces the dict output without trouble.",
}


def conv_linear_matmul_macs(r):
    """fvcore's conv + linear + matmul MACs, with einsum replaced by its exact count and, for vit, the sdpa products fvcore skips."""
    fb = r.get("fvcore_by_operator", {})
    macs = sum(fb.get(op, 0) for op in ("conv", "linear", "matmul", "bmm"))
    arch = r.get("architecture", {})
    macs += arch.get("einsum_macs_exact", 0) + arch.get("attention_matmul_macs_analytic", 0)
    return int(macs)


# ---------------------------------------------------------------- driver

def build(name):
    builder, kw, shape = MODELS[name]
    captured = {}
    if builder.startswith("regnet"):
        BP = M.regnet.BlockParams
        orig = BP.__dict__["from_init_params"]

        def capture(cls, **init):
            res = orig.__func__(cls, **init); captured.update(params=res, init=init); return res
        BP.from_init_params = classmethod(capture)
        try:
            m = M.get_model(builder, weights=None, **kw)
        finally:
            BP.from_init_params = orig
    else:
        m = M.get_model(builder, weights=None, **kw)
    return m.eval(), captured


def run(name):
    builder, kw, shape = MODELS[name]
    torch.manual_seed(0)
    m, captured = build(name)
    x = torch.randn(*shape)
    r = {"builder": builder, "kwargs": {k: v for k, v in kw.items()}, "input_shape": shape}
    r.update(param_buffer_counts(m))
    if builder == "inception_v3":
        aux = sum(p.numel() for p in m.AuxLogits.parameters())
        r["params_aux_module"] = aux; r["params_without_aux"] = r["params"] - aux
    if builder == "fcn_resnet50":
        aux = sum(p.numel() for p in m.aux_classifier.parameters())
        r["params_aux_module"] = aux; r["params_without_aux"] = r["params"] - aux
    r["published"] = published(builder)

    # forward: output shapes, plus runtime facts for the windowed-attention models
    runtime = []
    hooks = []
    if builder.startswith("swin"):
        def swin_pre(mod, args):
            B, H, W, C = args[0].shape; ws = mod.window_size
            pH, pW = H + (ws[0] - H % ws[0]) % ws[0], W + (ws[1] - W % ws[1]) % ws[1]
            shift = [0 if ws[0] >= pH else mod.shift_size[0], 0 if ws[1] >= pW else mod.shift_size[1]]
            runtime.append({"H": H, "W": W, "C": C, "pad_H": pH, "pad_W": pW, "num_windows": (pH // ws[0]) * (pW // ws[1]),
                            "tokens_per_window": ws[0] * ws[1], "effective_shift": shift, "configured_shift": list(mod.shift_size)})
        hooks = [a.register_forward_pre_hook(swin_pre) for a in m.modules() if isinstance(a, M.swin_transformer.ShiftedWindowAttention)]
    if builder == "maxvit_t":
        hooks = [a.register_forward_pre_hook(lambda mod, args: runtime.append(list(args[0].shape)))
                 for a in m.modules() if isinstance(a, M.maxvit.RelativePositionalMultiHeadAttention)]
    tally, handles = conv_linear_hooks(m)
    with torch.no_grad():
        out = m(x)
    for h in hooks + handles:
        h.remove()
    r["output_shape"] = shapes(out)
    del out
    detailed = name in DETAILED
    if detailed:
        r["hook_conv_linear_macs"] = summarise_hooks(m, tally)
    else:
        r["hook_conv_linear_macs_total"] = sum(t[2] for t in tally)

    r.update(peers(m, x, detailed))

    if builder.startswith("regnet"):
        r["architecture"] = arch_regnet(builder, m, captured)
    elif builder.startswith("efficientnet_v2"):
        r["architecture"] = arch_efficientnet_v2(builder, m)
    elif builder.startswith("swin"):
        per_stage, seen = [], set()
        for e in runtime:
            key = (e["H"], e["W"], e["C"])
            if key not in seen:
                seen.add(key); per_stage.append([])
            if len(per_stage[-1]) < 2:  # a stage's first (unshifted) and second (shifted) block
                per_stage[-1].append(e)
        r["architecture"] = arch_swin(builder, m, per_stage)
    elif builder == "maxvit_t":
        r["architecture"] = arch_maxvit(m, [[list(s), n] for s, n in sorted(Counter(tuple(s) for s in runtime).items())])
    elif builder == "inception_v3":
        r["architecture"] = arch_inception(m)
    elif builder == "fcn_resnet50":
        r["architecture"] = arch_fcn(m)
    elif builder == "mobilenet_v3_small":
        r["architecture"] = arch_mobilenet_v3_small(m)
    elif builder == "r3d_18":
        r["architecture"] = arch_r3d(m)
    elif builder == "vit_l_16":
        r["architecture"] = arch_vit(m)

    # torchvision's _ops turned out to be these MACs / 1e9, rounded to 3 decimals, at the entry's crop size
    macs = conv_linear_matmul_macs(r)
    same_res = [e["_ops"] for e in r["published"].get("entries", {}).values() if e["resolution"] == shape[-2:]]
    r["conv_linear_matmul_macs"] = macs
    r["conv_linear_matmul_gmacs_rounded"] = round(macs / 1e9, 3)
    r["published_ops_at_this_resolution"] = same_res
    r["matches_published_ops"] = bool(same_res) and all(abs(round(macs / 1e9, 3) - o) < 1e-9 for o in same_res)
    note = PEER_NOTES.get("swin" if builder.startswith("swin") else builder)
    if note:
        r["peer_notes"] = note
    return r


ABOUT = (
    "Reference figures for torchvision vision models, measured on {date} by tests/reference/measure_vision_zoo.py "
    "with PyTorch {torch} (CPU, float32), torchvision {tv}, ultralytics-thop {thop}, ptflops {ptflops}, fvcore {fvcore}, numpy {numpy}. "
    "Builders from torchvision.models with weights=None (fcn_resnet50 also weights_backbone=None), models in eval(), batch 1, "
    "input torch.randn(input_shape) after torch.manual_seed(0). Peers run as measure_peers.py runs them: thop.profile(model, inputs=(x,)) -> (macs, params); "
    "ptflops get_model_complexity_info(model, input_res, as_strings=False, print_per_layer_stat=False, backend='pytorch' | 'aten', "
    "input_constructor=lambda res: x) -> (macs, params), raw values (ptflops may return floats); fvcore FlopCountAnalysis(model, x).total(), "
    ".by_operator(), .unsupported_ops() (fvcore counts one multiply-add as one flop; its einsum handler for equations other than "
    "abc,abd->acd / abc,adc->adb takes numpy.einsum_path's 'Optimized FLOP count', printed with 4 significant digits, halved and floored, so it is rounded); "
    "torch.utils.flop_counter.FlopCounterMode(display=False) around a torch.no_grad() forward, get_total_flops() (2 flops per multiply-add) and "
    "get_flop_counts()['Global'] per operator. hook_conv_linear_macs: forward hooks on nn.Conv*/nn.Linear modules, MACs = output numel * in_channels/groups * kernel taps "
    "for convs and rows * in_features * out_features for linears (layers applied through F.linear with a module's weight, as swin's qkv/proj, never fire a hook). "
    "conv_linear_matmul_macs: fvcore's conv+linear+matmul MACs with einsum counted exactly and, for vit_l_16, the sdpa products added analytically; "
    "matches_published_ops says whether it equals _ops (x1e9, 3 decimals) of the weights entries at the measured resolution. "
    "*_by_module_pattern: module paths with numeric indices replaced by '*', summed. published: every entry of the builder's weights enum, meta['num_params'] and "
    "meta['_ops'] (GFLOPS as torchvision publishes it) with the crop_size of the entry's transforms, the resolution _ops refers to. "
    "nn.MultiheadAttention's fast path disabled (torch.backends.mha.set_fastpath_enabled(False)). torch.set_num_threads(2)."
)


def main(argv):
    names = argv or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s): {unknown}; known: {list(MODELS)}")
    data = {"about": "", "models": {}}
    if os.path.exists(OUT):
        with open(OUT) as f:
            data = json.load(f)
    for n in names:
        print(f"measuring {n} ...", file=sys.stderr, flush=True)
        try:
            rec = run(n)
        except Exception as e:
            rec = {"error": repr(e)}
        data["models"][n] = rec
        data["models"] = {k: data["models"][k] for k in MODELS if k in data["models"]}
        data["about"] = ABOUT.format(date=datetime.date.today().isoformat(), torch=torch.__version__, tv=torchvision.__version__,
                                     thop=version("ultralytics-thop"), ptflops=version("ptflops"), fvcore=version("fvcore"), numpy=version("numpy"))
        with open(OUT, "w") as f:
            json.dump(data, f, indent=1, default=lambda o: sorted(o) if isinstance(o, set) else repr(o))
            f.write("\n")
        gc.collect()


if __name__ == "__main__":
    main(sys.argv[1:])
