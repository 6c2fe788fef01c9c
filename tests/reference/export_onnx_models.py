"""Export torchvision models to ONNX and record what archspec imports from them; writes
onnx_models_measured.json (read by tests/importers/test_onnx.py). The .onnx files are not
kept in the repository (hundreds of MB).

Not run by the tests. Two steps, in two environments:

    # 1. export, with torch (see measure_vision_zoo.py for the venv; plus onnx and onnxscript)
    /work/tvvenv/bin/pip install onnx onnxscript
    /work/tvvenv/bin/python tests/reference/export_onnx_models.py export --dir /tmp/onnx_models
    # 2. import and measure, with archspec[onnx] (no torch)
    python tests/reference/export_onnx_models.py measure --dir /tmp/onnx_models

Both steps take model names to do some of them only. Every model is built by its
torchvision builder (weights=None, eval(), input 1x3x224x224 unless MORE says otherwise, with
a symbolic batch dim "batch"); the models of MODELS are exported three ways, those of MORE
the first way only:

* "torchscript" (the figures the tests check): torch.onnx.export(dynamo=False, opset 17,
  training=TrainingMode.PRESERVE, do_constant_folding=False). PRESERVE keeps each
  BatchNormalization (the default EVAL mode folds it into the convolution before export),
  and without constant folding Swin's relative-position tables stay tables (folding
  evaluates table[index] into a [1, heads, 49, 49] constant): the file's initializers are
  then the model's parameters and buffers.
* "torchscript_default": the same exporter with its defaults (training EVAL, constant folding).
* "dynamo": torch.onnx.export(dynamo=True) with its default optimizer.

For each export it records the ONNX operator histogram and archspec's figures of the
imported spec (params, buffers, MACs, FLOPs), where they differ from torchvision's params or
the zoo spec's counts and why, and the peak RSS of importing the file in a fresh process
(VmHWM), next to the process without the import and to onnx.load of the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "onnx_models_measured.json"
# model -> the zoo spec its MACs are compared with; these are exported all three ways
MODELS = {
    "resnet50": "resnet50",
    "mobilenet_v3_large": "mobilenet_v3_large",
    "efficientnet_b0": "efficientnet_b0",
    "vit_b_16": "vit_b_16",
    "swin_t": "swin_t",
    "wide_resnet50_2": "wide_resnet50_2",  # 275 MB: the peak-RSS figure of a large file
}
# more of the zoo, exported the first way only: model -> (input shape, builder arguments)
MORE = {
    "resnet18": None, "resnext50_32x4d": None, "alexnet": None, "vgg16": None, "vgg16_bn": None,
    "squeezenet1_1": None, "shufflenet_v2_x1_0": None, "densenet121": None,
    "googlenet": ((1, 3, 224, 224), {"aux_logits": False, "init_weights": False}),  # as the zoo spec: no aux heads
    "inception_v3": ((1, 3, 299, 299), {"init_weights": False}), "convnext_tiny": None, "regnet_y_400mf": None,
    "mobilenet_v2": None, "mobilenet_v3_small": None, "maxvit_t": None,
    "efficientnet_v2_s": ((1, 3, 384, 384), {}), "r3d_18": ((1, 3, 16, 112, 112), {}),
    "fcn_resnet50": ((1, 3, 520, 520), {"weights_backbone": None, "aux_loss": True}),
}
EXPORTS = ("torchscript", "torchscript_default", "dynamo")
# why an import differs from torchvision's params or the zoo spec's counts: by (model, export, figure)
WHY = {
    ("vit_b_16", "torchscript", "flops"): "torch exports scaled_dot_product_attention scaling q and k by sqrt(scale) "
    "each (2 * L * head_dim multiplies per head) where the zoo spec's MultiheadAttention scales the scores (L * L)",
    ("vit_b_16", "torchscript_default", "flops"): "the attention scaling, as in 'torchscript'",
    ("vit_b_16", "dynamo", "params"): "the dynamo exporter's optimizer drops the biases that are all zeros in the "
    "untrained model: conv_proj's, each out_proj's and the head's",
    ("vit_b_16", "dynamo", "flops"): "the attention scaling, as in 'torchscript', and the adds of the dropped biases",
    ("swin_t", "torchscript", "buffers"): "the shifted-window attention masks torchvision builds at run time from the "
    "map's shape are folded at import into Buffer layers ([1, windows, 1, 49, 49] each)",
    ("swin_t", "torchscript_default", "params"): "constant folding evaluates table[index] into a [1, heads, 49, 49] "
    "constant per block, a Parameter here ((2401 - 169) * heads more each)",
    ("swin_t", "torchscript_default", "buffers"): "relative_position_index is folded away; the window masks are Buffer "
    "layers, as in 'torchscript'",
    ("swin_t", "dynamo", "params"): "table[index] folded into constants, as in 'torchscript_default'; the head's zero "
    "bias dropped by the optimizer",
    ("swin_t", "dynamo", "buffers"): "as 'torchscript_default'",
    ("swin_t", "dynamo", "flops"): "the add of the dropped head bias",
    ("inception_v3", "torchscript", "params"): "the auxiliary classifier runs only in training; the inference graph "
    "has none (the zoo spec marks it training_only: its params counted, its MACs only with --training)",
    ("inception_v3", "torchscript", "buffers"): "the auxiliary classifier's BatchNorm statistics, as its params",
    ("torchscript_default", "params"): "training=EVAL folds each BatchNorm into the convolution before it: its 2*C "
    "params go, the convolution gains a C bias",
    ("torchscript_default", "buffers"): "the folded BatchNorms take their running statistics with them",
    ("torchscript_default", "flops"): "a folded BatchNorm's 2 FLOPs per element become the convolution's bias add (1)",
    ("dynamo", "params"): "the dynamo exporter's optimizer folds each BatchNorm into the convolution and drops the "
    "biases that are all zeros in the untrained model (the folded convolutions' among them)",
    ("dynamo", "buffers"): "the folded BatchNorms take their running statistics with them",
    ("dynamo", "flops"): "the folded BatchNorms' 2 FLOPs per element go, and the adds of the dropped zero biases",
}


# -- step 1: export (torch) -------------------------------------------------------------------
def export(names: list[str], directory: Path) -> None:
    import logging
    import warnings

    import torch
    import torchvision

    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    torch.backends.mha.set_fastpath_enabled(False)
    directory.mkdir(parents=True, exist_ok=True)
    figures_path = directory / "torch_figures.json"
    figures = json.loads(figures_path.read_text()) if figures_path.exists() else {}
    for name in names:
        shape, kwargs = MORE.get(name) or ((1, 3, 224, 224), {})
        model = _build(torchvision, name, kwargs).eval()
        figures[name] = {
            "params": sum(p.numel() for p in model.parameters()),
            "buffers": sum(b.numel() for b in model.buffers()),
            "input": list(shape),
            "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
        }
        for kind in EXPORTS if name in MODELS else EXPORTS[:1]:
            path = directory / f"{name}.{kind}.onnx"
            started = time.time()
            try:
                _export_one(torch, model, torch.randn(*shape), kind, path)
            except Exception as exc:  # noqa: BLE001 - an exporter's failure is a figure too
                figures[name][f"{kind}_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                path.unlink(missing_ok=True)
                print(f"{name} {kind}: {figures[name][f'{kind}_error']}", flush=True)
                continue
            figures[name][f"{kind}_export_seconds"] = round(time.time() - started, 1)
            print(f"{name} {kind}: {path.stat().st_size / 1e6:.1f} MB", flush=True)
        figures_path.write_text(json.dumps(figures, indent=1))


def _build(torchvision, name: str, kwargs: dict):
    """The torchvision model; a segmentation model returns its outputs as a tuple (out, aux)."""
    import torch

    if name == "r3d_18":
        return torchvision.models.video.r3d_18(weights=None)
    if name == "fcn_resnet50":
        class Outputs(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, x):
                out = self.model(x)
                return out["out"], out["aux"]

        return Outputs(torchvision.models.segmentation.fcn_resnet50(weights=None, **kwargs))
    return getattr(torchvision.models, name)(weights=None, **kwargs)


def _export_one(torch, model, x, kind: str, path: Path) -> None:
    outputs = ["out", "aux"] if path.name.startswith("fcn_") else ["logits"]
    names = {"input_names": ["x"], "output_names": outputs}
    if kind == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(model, (torch.cat([x, x]),), str(path), dynamo=True, dynamic_shapes={"x": {0: batch}},
                          external_data=False, **names)
        return
    options = {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False} if kind == "torchscript" else {}
    axes = {name: {0: "batch"} for name in ["x", *outputs]}
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17, dynamic_axes=axes, **names, **options)


# -- step 2: import and measure (archspec, onnx) ------------------------------------------------
def measure(names: list[str], directory: Path) -> None:
    import onnx

    import archspec

    torch_figures = json.loads((directory / "torch_figures.json").read_text())
    data = json.loads(OUT.read_text()) if OUT.exists() else {"models": {}}
    data["about"] = _about(torch_figures, onnx.__version__, archspec.__version__)
    for name in names:
        spec = MODELS.get(name, name)
        zoo = archspec.analyze(ROOT / "specs" / f"{spec}.yaml")
        record = {
            "zoo_spec": spec,
            "input": torch_figures[name].get("input", [1, 3, 224, 224]),
            "torchvision": {k: torch_figures[name][k] for k in ("params", "buffers")},
            "zoo": {k: zoo.totals[k] for k in ("params", "buffers", "macs", "flops")},
        }
        for kind in EXPORTS if name in MODELS else EXPORTS[:1]:
            path = directory / f"{name}.{kind}.onnx"
            if not path.exists():
                record[kind] = {"export_error": torch_figures[name].get(f"{kind}_error", "not exported")}
                continue
            record[kind] = _measure_file(onnx, archspec, path, record, rss=name in MODELS)
            print(name, kind, record[kind]["imported"], flush=True)
        record["imported"] = record["torchscript"]["imported"]
        data["models"][name] = record
        OUT.write_text(json.dumps(data, indent=1) + "\n")


def _measure_file(onnx, archspec, path: Path, record: dict, rss: bool) -> dict:
    from archspec.importers import import_spec

    model = onnx.load(str(path), load_external_data=False)
    started = time.time()
    text = import_spec(path)
    seconds = time.time() - started
    report = archspec.analyze(text)
    imported = {k: report.totals[k] for k in ("params", "buffers", "macs", "flops")}
    result = {
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "opset": next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "nodes": len(model.graph.node),
        "op_histogram": dict(Counter(n.op_type for n in model.graph.node).most_common()),
        "spec_layers": len(report.layers),
        "import_seconds": round(seconds, 2),
        "imported": imported,
        "differences": _differences(path, imported, record),
    }
    if rss:
        result["peak_rss_mb"] = _peak_rss(path)
    del model
    return result


def _differences(path: Path, imported: dict, record: dict) -> dict:
    """Where the import differs from torchvision (params) or the zoo spec (MACs, FLOPs, buffers), and why."""
    model, kind = path.name.split(".")[:2]
    reference = {"params": record["torchvision"]["params"], "buffers": record["zoo"]["buffers"],
                 "macs": record["zoo"]["macs"], "flops": record["zoo"]["flops"]}
    found = {}
    for key, expected in reference.items():
        if imported[key] != expected:
            why = WHY.get((model, kind, key)) or WHY.get((kind, key), "unexplained")
            found[key] = {"imported_minus_reference": imported[key] - expected, "why": why}
    return found


_RSS = """
import resource, sys
mode, path = sys.argv[1], sys.argv[2]
if mode == "import":
    from archspec.importers import import_spec
    import_spec(path)
elif mode == "analyze":
    import archspec
    archspec.analyze(path)
elif mode == "onnx.load":
    import onnx
    onnx.load(path, load_external_data=False)
else:
    import onnx, archspec.importers.onnx, archspec.engine
# VmHWM: this process's peak resident set since exec (ru_maxrss would include the forking parent's)
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(int(peak[0].split()[1]) if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss(path: Path) -> dict:
    """Peak resident set (MB, VmHWM) of a fresh process: without importing, importing the file
    (import_spec), analyzing it (archspec.analyze), and onnx.load of it."""
    result = {}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for mode in ("baseline", "import", "analyze", "onnx.load"):
        out = subprocess.run([sys.executable, "-c", _RSS, mode, str(path)], capture_output=True, text=True, check=True, env=env)
        result[mode] = round(int(out.stdout.split()[-1]) / 1024, 1)
    return result


def _about(torch_figures: dict, onnx_version: str, archspec_version: str) -> dict:
    some = next(iter(torch_figures.values()))
    return {
        "made_by": "tests/reference/export_onnx_models.py (export with torch, measure with archspec)",
        "versions": {**some["versions"], "onnx": onnx_version, "archspec": archspec_version, "python": sys.version.split()[0]},
        "exports": {
            "torchscript": "torch.onnx.export(dynamo=False, opset_version=17, training=PRESERVE, do_constant_folding=False); "
                           "the figures under 'imported'",
            "torchscript_default": "torch.onnx.export(dynamo=False, opset_version=17) with its defaults (EVAL, folding)",
            "dynamo": "torch.onnx.export(dynamo=True) with its default optimizer",
        },
        "input": "1x3x224x224 float32, dim 0 symbolic ('batch'); the imported spec's batch param is 1",
        "peak_rss_mb": "VmHWM (peak resident set) of a fresh Python process: baseline (imports only), import (import_spec of the file), "
                       "analyze (archspec.analyze of the file), onnx.load (the file loaded with load_external_data=False)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("export", "measure"))
    parser.add_argument("models", nargs="*", default=[*MODELS, *MORE])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/onnx_models"))
    args = parser.parse_intermixed_args()
    (export if args.step == "export" else measure)(args.models, args.dir)


if __name__ == "__main__":
    main()
