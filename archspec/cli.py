"""The `archspec` command: a thin layer of argument parsing over the library.

Exit codes: 0 success, 1 spec or shape error (message on stderr, no traceback),
2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

EXIT_OK, EXIT_SPEC, EXIT_USAGE = 0, 1, 2


def _binding(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. B=32), found {text!r}")
    return name.strip(), value.strip()


def _depth(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}")
    return int(text)


def _other_archspec(here=None) -> str | None:
    """The CPU-architecture library also named archspec (conda's) installs into the same import
    package, and one overwrites the other's files: say so instead of failing obscurely."""
    from pathlib import Path

    here = Path(here or Path(__file__).resolve().parent)
    if (here / "cpu").is_dir() or not (here / "engine.py").is_file():
        return ("error: another package named archspec (the CPU-microarchitecture library that conda uses) is "
                f"installed in {here}, sharing the import name with archspec-nn. Install archspec-nn in its own "
                "virtual environment: python -m venv .venv && . .venv/bin/activate && pip install archspec-nn")
    return None


COMMANDS = ("analyze", "validate", "compare", "conventions", "formula", "fit", "memory", "sweep", "schema", "devices",
            "roofline", "time", "plan", "import", "zoo", "graph", "report")


# two or three examples per command, shown by --help (tests/test_cli_help.py runs every one)
EXAMPLES: dict[str, tuple[str, ...]] = {
    "analyze": ("archspec analyze zoo:resnet50 --depth 1", "archspec analyze zoo:gpt2 --set B=8 --set L=512 --format json",
                "archspec analyze zoo:resnet50 --convention thop"),
    "validate": ("archspec validate zoo:resnet50", "archspec validate zoo:swin_t --strict"),
    "compare": ("archspec compare zoo:resnet18", "archspec compare zoo:gpt2 --format json"),
    "conventions": ("archspec conventions",),
    "formula": ("archspec formula zoo:resnet50 --symbolic B,H,W", "archspec formula zoo:gpt2 --symbolic B,L --format python"),
    "fit": ("archspec fit zoo:gpt2 --for B --memory 24GiB --dtype bf16", "archspec fit zoo:resnet50 --for B --macs 1T"),
    "memory": ("archspec memory zoo:gpt2 --dtype bf16 --set B=8", "archspec memory zoo:mistral_7b --decode --dtype bf16 --set B=8",
               "archspec memory zoo:gpt3_175b --dtype fp16 --tp 8 --pp 8 --sp --recompute selective --microbatches 64"),
    "sweep": ("archspec sweep zoo:resnet50 --grid B=1,8,32 --grid H=128..256:64",
              "archspec sweep zoo:efficientnet_b0 --range width_mult=0.5:2.0 --random 20 --pareto macs,params"),
    "schema": ("archspec schema",),
    "devices": ("archspec devices", "archspec devices --format json"),
    "roofline": ("archspec roofline zoo:resnet50 --device a100-80gb --set B=64",
                 "archspec roofline zoo:llama3_8b --device h100-sxm --decode --set B=32 --set P=4096"),
    "time": ("archspec time zoo:gpt3_175b --device a100-80gb --dtype fp16 --tp 8 --pp 8 --sp --recompute selective "
             "--global-batch 64", "archspec time zoo:gpt2 --device h100-sxm --gpus 8 --global-batch 64 --tokens 1B --price 2"),
    "plan": ("archspec plan zoo:gpt2 --device a100-40gb --gpus 8 --global-batch 32",),
    "import": ("archspec import config.json -o model.yaml", "archspec import model.onnx --unknown-ops zero"),
    "zoo": ("archspec zoo", "archspec zoo --format json"),
    "graph": ("archspec graph zoo:resnet18 --depth 1", "archspec graph zoo:alexnet --format dot"),
    "report": ("archspec report zoo:resnet50 -o resnet50.html",),
}


class _Skipped:
    """Stands for the parser of a command that is not run: every call is accepted and ignored
    (building all 20 command parsers is a fifth of a short command's start)."""

    _actions: list = []

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with `only`, just that command's (a faster start)."""
    from archspec import __version__
    from archspec.formats import FORMATS, FORMULA_FORMATS

    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Params, MACs and FLOPs of a network from a YAML spec, without PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"archspec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    with_examples = commands.add_parser

    def add_with_examples(name: str, **kwargs):
        kwargs.setdefault("description", kwargs.get("help"))
        if name in EXAMPLES:
            kwargs["epilog"] = "examples:\n" + "\n".join(f"  {example}" for example in EXAMPLES[name])
            kwargs["formatter_class"] = argparse.RawDescriptionHelpFormatter
        return with_examples(name, **kwargs)

    commands.add_parser = add_with_examples
    if only is not None:
        add_parser = commands.add_parser
        commands.add_parser = lambda name, **kwargs: add_parser(name, **kwargs) if name == only else _Skipped()

    def add_spec_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("spec", help="path to a YAML spec")
        sub.add_argument(
            "--set",
            dest="bindings",
            action="append",
            type=_binding,
            default=[],
            metavar="NAME=VALUE",
            help="re-bind a param: a number, an expression of other params, or null for a free symbol",
        )
        sub.add_argument(
            "--limit",
            dest="limits",
            action="append",
            type=_binding,
            default=[],
            metavar="NAME=N",
            help="raise a resource limit: max_layers, max_repeat, max_dim, max_bits, max_file_bytes, max_values or "
            "max_scalar_chars (docs/errors.md)",
        )
        sub.add_argument("--debug", action="store_true", help="show a traceback on errors")
        sub.add_argument("--strict", action="store_true", help="treat warnings (an output nothing reads) as errors")
        return sub

    analyze = add_spec_command("analyze", "per-layer shapes, params, MACs and FLOPs, with totals")
    analyze.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    analyze.add_argument(
        "--depth",
        type=_depth,
        default=None,
        metavar="N",
        help="one row per block N levels down (1: top-level layers and blocks); default: every layer",
    )
    analyze.add_argument(
        "--convention",
        default=None,
        metavar="NAME",
        help="count MACs and FLOPs as another counter prints them: thop, fvcore, ... (archspec conventions lists them)",
    )
    analyze.add_argument(
        "--backward", action="store_true", help="add the backward pass to flops (default: 2x the forward matmul FLOPs)"
    )
    _add_decode_option(analyze)
    analyze.add_argument(
        "--training", action="store_true", help="count the branches marked training_only too (an auxiliary classifier)"
    )
    add_spec_command("validate", "check a spec (format and shapes) without printing the analysis")
    compare = add_spec_command("compare", "every counting convention side by side, per layer type, and why they differ")
    compare.add_argument("--format", choices=("table", "json", "markdown"), default="table", help="output format (default: table)")
    commands.add_parser("conventions", help="list the counting conventions and the peer each follows")

    formula = add_spec_command("formula", "exact formulas of params, MACs and FLOPs in the params you keep free")
    formula.add_argument(
        "--symbolic", default="", metavar="NAMES", help="comma-separated params to keep free, e.g. B,H,W (params declared null always are)"
    )
    formula.add_argument(
        "--metric",
        default="params,macs,flops",
        metavar="NAMES",
        help="comma-separated: params, buffers, macs, flops, activations, or all; memory (bytes of every component "
        "and the total), or one component: weights, saved_activations, training_total, ...",
    )
    formula.add_argument("--format", choices=FORMULA_FORMATS, default="text", help="output format (default: text)")
    formula.add_argument("--per-layer", action="store_true", help="a formula for every layer too (with --depth, every block)")
    formula.add_argument("--depth", type=_depth, default=None, metavar="N", help="with --per-layer: one row per block N levels down")
    formula.add_argument(
        "--assume", action="append", default=[], metavar="NAME%K==0", help="assume a free param is a multiple of K: floors become exact"
    )
    formula.add_argument("--approx", action="store_true", help="drop floor divisions: a smooth formula, labelled approximate")
    _add_memory_options(formula, "with memory metrics: ")
    _add_decode_option(formula)
    _add_layout_options(formula)

    fit = add_spec_command("fit", "the largest value of one param that keeps a cost within a budget")
    fit.add_argument("--for", dest="target", required=True, metavar="NAME", help="the param to solve for, e.g. B")
    budgets = fit.add_mutually_exclusive_group(required=True)
    for metric in ("params", "macs", "flops"):
        budgets.add_argument(f"--{metric}", metavar="BUDGET", help=f"{metric} <= BUDGET (e.g. 4.1G, 1e12)")
    budgets.add_argument("--memory", metavar="BYTES", help="training (or --inference) total memory <= BYTES, with a unit: 24GiB, 80GB")
    _add_memory_options(fit, "with --memory: ")
    _add_decode_option(fit)
    _add_layout_options(fit)
    fit.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    memory = add_spec_command("memory", "weights, gradients, optimizer state, saved activations, inference peak and KV cache")
    _add_memory_options(memory)
    _add_decode_option(memory)
    _add_layout_options(memory)
    memory.add_argument(
        "--convention", default="archspec", choices=("archspec", "megatron", "deepspeed"),
        help="also print a peer's estimate for this layout: Megatron-LM's theoretical memory, DeepSpeed's ZeRO estimator",
    )
    memory.add_argument("--gpus-per-node", type=_depth, default=8, metavar="N", help="with --convention deepspeed (default 8)")
    memory.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    memory.add_argument("--per-layer", action="store_true", help="saved activations and KV cache per layer too, as a table")
    memory.add_argument("--depth", type=_depth, default=None, metavar="N", help="with --per-layer: one row per block N levels down")

    sweep = add_spec_command("sweep", "evaluate costs over a grid or random samples of params")
    sweep.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES", help="an axis: 1,2,4 or a..b or a..b:step")
    sweep.add_argument("--range", dest="ranges", action="append", default=[], metavar="NAME=LOW:HIGH", help="an axis sampled with --random")
    sweep.add_argument("--random", type=_depth, default=None, metavar="N", help="N random points instead of the full grid")
    sweep.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sweep.add_argument(
        "--metrics", default="params,macs,flops", metavar="NAMES",
        help="comma-separated: params, active_params, buffers, macs, flops, activations, memory (the training "
        "total, or the inference total with --inference) and its components (weights, gradients, optimizer, "
        "master_weights, saved_activations, training_total, inference_total, kv_cache; per device with layout "
        "options or axes tp, pp, dp, cp, ep, microbatches)",
    )
    sweep.add_argument("--where", default=None, metavar="CONDITION", help='keep points where e.g. "macs <= 4G"')
    sweep.add_argument("--pareto", default=None, metavar="M1,M2", help="mark the points no other point beats in both metrics (smaller is better)")
    sweep.add_argument("--out", default=None, metavar="FILE", help="write every point to FILE.csv, .jsonl or .parquet (streamed; replaced when complete)")
    sweep.add_argument("--format", choices=("table", "csv", "jsonl"), default="table", help="stdout format without --out (default: table)")
    sweep.add_argument("--top", type=_depth, default=20, metavar="K", help="table: the K smallest points by --sort (default 20)")
    sweep.add_argument("--sort", default=None, metavar="METRIC", help="table: the metric to sort by (default: the first)")
    sweep.add_argument("--plot", default=None, metavar="FILE", help="draw the metrics (or the Pareto front) to FILE.png, .svg or .pdf; needs matplotlib")
    sweep.add_argument("--dpi", type=_depth, default=200, metavar="N", help="--plot resolution of a PNG (default 200)")
    sweep.add_argument("--workers", type=_depth, default=None, metavar="N", help="processes for per-structure analyses (default: all cores)")
    sweep.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="where structural analyses run: processes here (default), or a Dask cluster")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="with --executor dask: a running scheduler (tcp://HOST:8786); default a local cluster")
    sweep.add_argument("--max-points", type=_depth, default=10**8, metavar="N",
                       help="refuse a sweep of more points before it starts (default 100,000,000)")
    _add_memory_options(sweep, "with memory metrics: ")
    _add_layout_options(sweep)
    commands.add_parser("schema", help="print the JSON Schema of the spec format")

    devices = commands.add_parser("devices", help="the known accelerators and their figures (with sources)")
    devices.add_argument("--format", choices=("table", "json"), default="table")
    roofline = add_spec_command("roofline", "per-layer roofline bounds on a device: FLOPs, bytes, bound, time")
    _add_device_options(roofline)
    roofline.add_argument("--dtype", default="bf16", help="weights and activations (default bf16)")
    _add_decode_option(roofline)
    roofline.add_argument("--depth", type=_depth, default=None, metavar="N", help="one row per block N levels down")
    roofline.add_argument("--format", choices=("table", "json"), default="table")
    roofline.add_argument("--plot", default=None, metavar="FILE", help="draw the layers on the device's roofline (PNG/SVG; needs matplotlib)")
    time = add_spec_command("time", "training step time, MFU, tokens/s and GPU-hours under a layout on a device")
    _add_device_options(time)
    # on an accelerator, training runs in mixed precision: bf16 with fp32 master weights
    _add_memory_options(time, "", dtype="bf16")
    _add_layout_options(time)
    time.add_argument("--gpus", type=_depth, default=None, metavar="N", help="devices in all; --dp defaults to gpus / (tp x pp x cp)")
    time.add_argument("--global-batch", type=_depth, default=None, metavar="SEQUENCES", help="sequences per step: sets --microbatches")
    time.add_argument("--tokens", default=None, metavar="N", help="a token budget (e.g. 15.6T): time, GPU-hours and FLOPs for it")
    time.add_argument("--mfu", type=float, default=None, metavar="F", help="take a stated model-FLOPs utilization instead of the efficiency model")
    time.add_argument("--price", type=float, default=None, metavar="P", help="price per GPU-hour: adds the cost")
    time.add_argument("--format", choices=("text", "json"), default="text")
    plan = add_spec_command("plan", "search layouts (dp, tp, pp, ep, sp, ZeRO, recomputation, micro-batch) that fit, ranked by step time")
    _add_device_options(plan)
    _add_memory_options(plan, "", dtype="bf16")
    plan.add_argument("--gpus", type=_depth, required=True, metavar="N", help="devices in all")
    plan.add_argument("--global-batch", type=_depth, required=True, metavar="SEQUENCES", help="sequences per step")
    plan.add_argument("--top", type=_depth, default=15, metavar="K", help="show the K fastest (default 15)")
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.add_argument("--plot", default=None, metavar="FILE", help="memory against step time, the Pareto front drawn")
    _add_ep_dispatch(plan)
    _add_import_command(commands)
    graph = add_spec_command("graph", "draw the architecture: layers or blocks, with shapes, params and MACs")
    graph.add_argument("--depth", type=_depth, default=None, metavar="N", help="one node per block N levels down")
    graph.add_argument("--format", choices=("mermaid", "dot"), default="mermaid", help="text output (default mermaid)")
    graph.add_argument("-o", "--output", default=None, metavar="FILE",
                       help="write to FILE: .mmd/.md (Mermaid), .dot, or .svg/.png/.pdf (needs Graphviz's dot)")
    report_cmd = add_spec_command("report", "one self-contained HTML page: summary, diagram, layers, memory")
    report_cmd.add_argument("-o", "--output", required=True, metavar="FILE.html", help="the page to write")
    report_cmd.add_argument("--depth", type=_depth, default=1, metavar="N", help="the diagram's depth (default 1)")
    _add_memory_options(report_cmd, "memory section: ")
    zoo = commands.add_parser("zoo", help="the specs that ship with archspec (analyze them as zoo:NAME)",
                              description="the specs that ship with archspec, with params and MACs at their defaults; "
                              "e.g. archspec analyze zoo:resnet50")
    zoo.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def _add_import_command(commands) -> None:
    text = "write the spec of a HuggingFace config.json or an ONNX model (the onnx extra) as YAML"
    sub = commands.add_parser("import", help=text, description=text)
    sub.add_argument("source", help="a config.json or an .onnx file")
    sub.add_argument("-o", "--output", default=None, metavar="OUT", help="write the spec to OUT (default: standard output)")
    sub.add_argument("--name", default=None, help="the spec's name (default: the model's)")
    sub.add_argument("--attention", choices=("fused", "eager"), default="fused",
                     help="HuggingFace configs: SDPA's fused kernel (default) or the eager attention")
    sub.add_argument("--unknown-ops", choices=("error", "zero"), default="error",
                     help="ONNX: an operator without a mapping is an error (default) or a zero-cost layer, with a warning")
    sub.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _graph(args: argparse.Namespace) -> int:
    """archspec graph: Mermaid or DOT text, or an image through Graphviz."""
    from pathlib import Path

    from archspec import diagram

    bindings, limits = _bindings_and_limits(args)
    report = _analyze(args, limits, bindings)
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix in (".svg", ".png", ".pdf"):
        diagram.render_image(diagram.dot(report, args.depth), str(output))
        return EXIT_OK
    fmt = "dot" if output is not None and output.suffix in (".dot", ".gv") else args.format
    text = diagram.dot(report, args.depth) if fmt == "dot" else diagram.mermaid(report, args.depth)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
    return EXIT_OK


def _html_report(args: argparse.Namespace) -> int:
    """archspec report: the HTML page, written through a temporary file beside it."""
    import os
    from pathlib import Path

    from archspec.html_report import html_report
    from archspec.memory import memory

    bindings, limits = _bindings_and_limits(args)
    options = _memory_options(args)
    report = _analyze(args, limits, bindings, training=options.training)
    page = html_report(report, memory(report, options), args.depth)
    output = Path(args.output)
    temp = output.with_name(f".{output.name}.partial")
    temp.write_text(page, encoding="utf-8")
    os.replace(temp, output)
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def _zoo(args: argparse.Namespace) -> int:
    """archspec zoo: every shipped spec with its params and MACs at the defaults."""
    from archspec.engine import analyze
    from archspec.formats import human
    from archspec.source import zoo_dir

    entries = []
    for path in sorted(zoo_dir().glob("*.yaml")):
        report = analyze(path)
        entries.append({"name": path.stem, "params": report.totals["params"], "macs": report.totals["macs"],
                        "description": report.description})
    if args.format == "json":
        print(json.dumps(entries, indent=2))
        return EXIT_OK
    width = max(len(e["name"]) for e in entries)
    print(f"{'name':<{width}}  {'params':>9}  {'MACs':>9}  description")
    for e in entries:
        print(f"{e['name']:<{width}}  {human(e['params']):>9}  {human(e['macs']):>9}  {e['description']}")
    print(f"({len(entries)} specs; archspec analyze zoo:NAME)")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    """archspec import: the YAML to OUT or stdout; the importer's warnings on stderr."""
    import warnings
    from pathlib import Path

    from archspec.importers import import_spec

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = import_spec(args.source, name=args.name, attention=args.attention, unknown_ops=args.unknown_ops)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", required=True, metavar="NAME", help="a device (archspec devices) or a YAML file describing one")
    group = parser.add_argument_group("efficiencies (docs/performance-model.md)")
    for name, default, what in (("matmul", 0.65, "of the dense matrix peak"), ("vector", 0.5, "of the non-matrix peak"),
                                ("memory", 0.8, "of the memory bandwidth"), ("link", 0.8, "of a link's bandwidth")):
        group.add_argument(f"--{name}-efficiency", type=float, default=default, metavar="F", help=f"{what} (default {default})")
    group.add_argument("--tp-overlap", type=float, default=0.0, metavar="F", help="of tp/cp/ep traffic hidden behind compute (default 0)")
    group.add_argument("--dp-overlap", type=float, default=0.0, metavar="F", help="of dp traffic hidden behind the backward pass (default 0)")


def _efficiency(args: argparse.Namespace):
    from archspec.timing import Efficiency

    efficiency = Efficiency(matmul=args.matmul_efficiency, vector=args.vector_efficiency, memory=args.memory_efficiency,
                            link=args.link_efficiency, tp_overlap=args.tp_overlap, dp_overlap=args.dp_overlap)
    efficiency.check()
    return efficiency


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    clash = _other_archspec()
    if clash:
        print(clash, file=sys.stderr)
        return EXIT_SPEC
    words = sys.argv[1:] if argv is None else argv
    command = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        from archspec.limits import applied

        # every analysis, file read and expression of the command runs under the --limit values
        with applied(_bindings_and_limits(args)[1] if hasattr(args, "limits") else None):
            return _run(args)
    except BrokenPipeError:  # a closed pipe (| head): stop quietly, and let nothing flush into it at exit
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except _UsageError as exc:
        print(f"archspec: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the boundary: no traceback for users
        from archspec.errors import ArchspecError

        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        if isinstance(exc, ArchspecError):
            print(f"error: {exc}", file=sys.stderr)
        elif isinstance(exc, OSError) and exc.filename is not None:  # an output file that cannot be written
            print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        else:
            print(
                f"internal error: {type(exc).__name__}: {exc}\n(this is a bug in archspec; rerun with --debug for details)",
                file=sys.stderr,
            )
        return EXIT_SPEC


def _run(args: argparse.Namespace) -> int:
    if args.command == "import":
        return _import(args)
    if args.command == "zoo":
        return _zoo(args)
    if args.command == "graph":
        return _graph(args)
    if args.command == "report":
        return _html_report(args)
    if args.command == "schema":
        # the shipped file, which a test keeps equal to archspec.spec.json_schema(): printing it
        # spares building the schema of every layer type
        from importlib.resources import files

        sys.stdout.write(files("archspec").joinpath("spec.schema.json").read_text(encoding="utf-8"))
        return EXIT_OK

    if args.command == "conventions":
        from archspec.compare import list_conventions

        print(list_conventions())
        return EXIT_OK
    if args.command == "compare":
        from archspec.compare import compare, render_comparison

        bindings, limits = _bindings_and_limits(args)
        print(render_comparison(compare(args.spec, bindings, limits), args.format))
        return EXIT_OK
    if args.command == "formula":
        return _formula(args)
    if args.command == "fit":
        return _fit(args)
    if args.command == "memory":
        return _memory(args)
    if args.command == "devices":
        from archspec.timing.commands import run_devices

        return run_devices(args)
    if args.command == "roofline":
        from archspec.engine import analyze as analyze_quietly
        from archspec.timing.commands import run_roofline

        bindings, limits = _bindings_and_limits(args)
        report = _analyze(args, limits, bindings, decode=args.decode)
        # decoding: the largest batch B whose weights, KV cache and step fit beside each other
        free_batch = analyze_quietly(args.spec, limits=limits, decode=True, **{**bindings, "B": None}) if (
            args.decode and "B" in report.params) else None
        return run_roofline(args, report, _efficiency(args), free_batch)
    if args.command == "time":
        return _time(args)
    if args.command == "plan":
        from archspec.timing.commands import run_plan

        bindings, limits = _bindings_and_limits(args)
        options = _memory_options(args)
        return run_plan(args, lambda batch: _analyze(args, limits, {**bindings, "B": batch}, training=True), options, _efficiency(args))
    if args.command == "sweep":
        from archspec.sweep_cli import run_sweep

        bindings, limits = _bindings_and_limits(args)
        return run_sweep(args, bindings)

    bindings, limits = _bindings_and_limits(args)
    options = {}
    if args.command == "analyze":
        options = {"convention": args.convention, "backward": args.backward, "decode": args.decode, "training": args.training}
    report = _analyze(args, limits, bindings, **options)
    if args.command == "validate":
        from archspec.formats import shape_text

        outputs = ", ".join(f"{name} {shape_text(shape)}" for name, shape in report.outputs.items())
        print(f"ok: {report.name}: {len(report.layers)} layers, output {outputs}")
        for warning in report.warnings:
            print(f"  warning: {warning}")
        return EXIT_OK

    from archspec.formats import render

    if args.depth is not None:
        report = report.collapsed(args.depth)
    print(render(report, args.format))
    return EXIT_OK


def _analyze(args: argparse.Namespace, limits, bindings, **options):
    """archspec.analyze for a command: its warnings on stderr (errors with --strict)."""
    from archspec.engine import analyze
    from archspec.errors import SpecError

    report = analyze(args.spec, limits=limits, **options, **bindings)
    if report.warnings and getattr(args, "strict", False):
        raise SpecError("; ".join(report.warnings) + " (--strict)")
    if args.command != "validate":
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return report


def _bindings_and_limits(args: argparse.Namespace):
    """The --set bindings and the --limit values; _UsageError when they are malformed."""
    from archspec.limits import Limits

    bindings = {}
    for name, value in args.bindings:
        if name in bindings:
            raise _UsageError(f"--set {name} is given twice")
        bindings[name] = value
    limits = {}
    for name, value in args.limits:
        if name not in Limits.names() or not value.isdigit():
            raise _UsageError(f"--limit takes one of {', '.join(Limits.names())} = a whole number, found {name}={value}")
        limits[name] = int(value)
    return bindings, Limits(**limits)


def _layout_size(text: str):
    if text.strip().lower() in ("null", "none"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (or null for a free symbol), found {text!r}")
    return int(text)


def _add_layout_options(parser: argparse.ArgumentParser) -> None:
    """The options of archspec.parallel.Layout: per-device memory under a parallel layout."""
    group = parser.add_argument_group("parallel layout (per-device memory; docs/parallel.md)")
    for name, what in (("dp", "data"), ("tp", "tensor"), ("cp", "context"), ("ep", "expert")):
        group.add_argument(f"--{name}", type=_layout_size, default=1, metavar="N", help=f"{what}-parallel size (null: a free symbol)")
    group.add_argument("--pp", type=_depth, default=1, metavar="N", help="pipeline-parallel size (stages)")
    group.add_argument("--sp", action="store_true", help="sequence parallelism with tensor parallelism")
    group.add_argument("--zero", type=int, default=0, choices=(0, 1, 2, 3), help="ZeRO stage: 1 optimizer state, 2 + gradients, 3 + weights (FSDP)")
    group.add_argument("--fsdp", action="store_true", help="FSDP: ZeRO-3's sharding (the same as --zero 3)")
    group.add_argument("--distributed-optimizer", action="store_true", help="Megatron's distributed optimizer (shards optimizer state and master weights)")
    group.add_argument("--recompute", default="none", choices=("none", "selective", "full", "per-block"), help="activation recomputation")
    group.add_argument("--microbatches", type=_layout_size, default=1, metavar="M", help="micro-batches per step (the spec's B is one micro-batch)")
    group.add_argument("--virtual-stages", type=_depth, default=1, metavar="V", help="interleaved pipeline: model chunks per device")
    group.add_argument("--first-stage-layers", type=int, default=None, metavar="N", help="pin the layers of the first pipeline stage")
    group.add_argument("--last-stage-layers", type=int, default=None, metavar="N", help="pin the layers of the last pipeline stage")
    _add_ep_dispatch(group)
    group.add_argument("--node-size", type=int, default=None, metavar="N", help="devices per node (default: the device's, else 8)")


def _add_ep_dispatch(parser) -> None:
    # the choices are archspec.parallel.layout.EP_DISPATCH, spelled here so that parsing loads no model
    parser.add_argument("--ep-dispatch", default="expert", choices=("expert", "node"),
                        help="a mixture of experts' routed tokens travel once per expert (an all-to-all; default) or once "
                        "per destination node, then over the node's links (DeepSeek-V3's DeepEP)")


def _layout(args: argparse.Namespace):
    """The parallel layout the command line asks for, or None for one device."""
    from archspec.parallel import Layout

    sizes = {}
    for name in ("dp", "tp", "cp", "ep", "microbatches"):
        value = getattr(args, name)
        if value is None:  # a free layout size: sympy only when asked for (a fast start otherwise)
            from archspec.symbolic import symbol

            value = symbol(name)
        sizes[name] = value
    layout = Layout(
        **sizes, pp=args.pp, sp=args.sp, zero=3 if args.fsdp else args.zero, distributed_optimizer=args.distributed_optimizer,
        recompute=args.recompute, virtual_stages=args.virtual_stages,
        first_stage_layers=args.first_stage_layers, last_stage_layers=args.last_stage_layers,
        ep_dispatch=args.ep_dispatch, node_size=args.node_size,
    )
    if layout == Layout():
        return None
    layout.check()
    return layout


def _add_decode_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--decode",
        action="store_true",
        help="one decode step: one new token per sequence against P cached tokens (--set P=N; default: the "
        "sequence length param's value); the encoder of an encoder-decoder does not run",
    )


def _add_memory_options(parser: argparse.ArgumentParser, prefix: str = "", dtype: str = "fp32") -> None:
    """The options of archspec.memory.MemoryOptions, for every command that measures memory."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--training", dest="training", action="store_true", default=True, help=f"{prefix}training memory (default)")
    mode.add_argument("--inference", dest="training", action="store_false", help=f"{prefix}inference memory only")
    parser.add_argument("--dtype", default=dtype, help=f"{prefix}weights and activations: fp32, bf16, fp16, fp8, int8, int4 (default {dtype})")
    parser.add_argument("--grad-dtype", default=None, help=f"{prefix}gradients (default: --dtype)")
    parser.add_argument("--optimizer", default="adam", help=f"{prefix}none, sgd, sgd-momentum, rmsprop, adagrad, adam, adamw (default adam)")
    parser.add_argument("--master-weights", default="auto", help=f"{prefix}dtype of master weights; auto: fp32 under mixed precision; none")
    parser.add_argument("--checkpointing", default="none", choices=("none", "per-block"), help=f"{prefix}activation recomputation")
    # commands with a named accelerator (--device h100-sxm) spell this --kernel-device
    taken = any("--device" in action.option_strings for action in parser._actions)
    parser.add_argument(
        "--kernel-device" if taken else "--device",
        dest="kernel_device",
        default="cuda",
        choices=("cuda", "cpu"),
        help=f"{prefix}the device whose kernels decide what is saved where they differ (dropout masks, attention under "
        "dropout, recurrent layers)",
    )


def _memory_options(args: argparse.Namespace):
    from archspec.memory import MemoryOptions

    options = MemoryOptions(
        training=args.training, dtype=args.dtype, grad_dtype=args.grad_dtype, optimizer=args.optimizer,
        master_weights=args.master_weights, checkpointing=args.checkpointing, device=args.kernel_device,
    )
    options.check()
    return options


class _UsageError(Exception):
    """A malformed command line (exit 2), found after argparse."""


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _formula(args: argparse.Namespace) -> int:
    from archspec.formula import METRICS, divisibility, divisible_binding, formulas, render_formulas

    from archspec.memory import DECODE_KEYS, KEYS, memory

    bindings, limits = _bindings_and_limits(args)
    options = _memory_options(args)
    if args.decode and options.training:
        options = replace(options, training=False)  # a decode step is inference
    training_only = ("gradients", "optimizer", "master_weights", "saved_activations", "training_total")
    inference_only = ("inference_peak", "kv_cache", "inference_total")
    # "buffers" stays the analysis metric (elements); their bytes are part of the totals
    memory_names = tuple(key for key in (*KEYS, *DECODE_KEYS) if key not in METRICS)
    memory_keys = [key for key in memory_names if key not in (inference_only if options.training else training_only)]
    if not args.decode:
        memory_keys = [key for key in memory_keys if key not in DECODE_KEYS]
    names = [name for part in _names(args.metric) for name in (memory_keys if part == "memory" else [part])]
    metrics = METRICS if args.metric == "all" else tuple(names)
    if not metrics or any(m not in METRICS + memory_names for m in metrics):
        raise _UsageError(f"--metric takes {', '.join(METRICS)}, all, memory or one of {', '.join(memory_names)}; found {args.metric!r}")
    symbolic = _names(args.symbolic)
    for name in symbolic:
        bindings[name] = None
    back, notes = {}, []
    for text in args.assume:
        name, divisor = divisibility(text)
        if name not in symbolic:
            raise _UsageError(f"--assume {text}: {name} is not in --symbolic")
        bindings[name], mapping = divisible_binding(name, divisor)
        back.update(mapping)
        notes.append(f"assuming {name} % {divisor} == 0")
    wants_memory = any(m in memory_names for m in metrics)
    report = _analyze(args, limits, bindings, decode=args.decode, training=wants_memory and options.training)
    if back:
        report = report.xreplace(back)
    if args.approx:
        notes.append("APPROXIMATE: floor divisions dropped (exact where every division is exact)")
    totals = dict(report.totals)
    if any(m in memory_names for m in metrics):
        if any(m in DECODE_KEYS for m in metrics) and not args.decode:
            raise _UsageError(f"{', '.join(DECODE_KEYS)} are figures of a decode step: add --decode")
        layout = _layout(args)
        result = memory(report, replace(options, layout=layout))
        figures = {**result.totals, **(result.decode or {})}
        if layout is not None:  # the most loaded device's share
            device = result.per_device.devices["most_loaded"]
            figures.update({key: device[key] for key in device if key in figures})
            figures["training_total"] = device["total"]
        totals.update({key: value for key, value in figures.items() if key in memory_names})
    free = sorted({str(s) for m in metrics if hasattr(totals[m], "free_symbols") for s in totals[m].free_symbols})
    per_layer = None
    if args.per_layer:
        rows = report.collapsed(args.depth).layers if args.depth else report.layers
        counted = tuple(m for m in metrics if m in METRICS)  # memory components are totals only
        per_layer = [(row.name, row.type, formulas({m: getattr(row, m) for m in counted}, counted, args.approx)) for row in rows]
    results = formulas(totals, metrics, args.approx)
    print(render_formulas(report.name, results, free, args.format, notes, per_layer))
    return EXIT_OK


def _memory(args: argparse.Namespace) -> int:
    from archspec.dims import is_concrete
    from archspec.formats import grouped, human_bytes
    from archspec.memory import DECODE_KEYS, KEYS, memory

    bindings, limits = _bindings_and_limits(args)
    options = _memory_options(args)
    if args.decode:
        options = replace(options, training=False)  # a decode step is inference
    report = _analyze(args, limits, bindings, decode=args.decode, training=options.training)
    layout = _layout(args)
    if args.convention != "archspec":
        from archspec.parallel import Layout

        return _peer_memory(args, report, layout or Layout())
    if layout is not None:
        return _parallel_memory(args, report, options, layout)
    result = memory(report, options)
    if args.format == "json":
        data = {
            "name": report.name,
            "options": {k: getattr(options, k) for k in options.__dataclass_fields__},
            "memory": {k: _plain(v) for k, v in result.totals.items()},
        }
        if result.decode is not None:
            data["decode"] = {"P": _plain(report.params["P"]), **{k: _plain(v) for k, v in result.decode.items()}}
        data["layers"] = [{k: _plain(v) for k, v in layer.items()} for layer in result.layers]
        print(json.dumps(data, indent=2))
        return EXIT_OK
    mode = "training" if options.training else "inference"
    if result.decode is not None:
        mode = f"decode step (P={report.params['P']} cached tokens)"
    print(f"{report.name}: {mode} memory, {options.dtype}" + (f", {options.optimizer}" if options.training else ""))
    width = max(len(k) for k in (*KEYS, *DECODE_KEYS))

    def show(key, value):
        if is_concrete(value):
            print(f"  {key.ljust(width)}  {human_bytes(value):>12}  {grouped(value)} B")
        else:  # a formula in the free params, in bytes
            print(f"  {key.ljust(width)}  {value} B")

    for key in KEYS:
        value = result.totals[key]
        if value == 0 and key not in ("weights", "training_total", "inference_total"):
            continue
        if key == "training_total" and not options.training:
            continue
        show(key, value)
    if result.decode is not None:
        print("  read by one step:")
        for key, value in result.decode.items():
            show(key, value)
    if args.per_layer:
        print()
        print(_memory_layers(result.layers, args.depth, options.training))
    return EXIT_OK


def _memory_layers(layers: list[dict], depth: int | None, training: bool) -> str:
    """Saved activations and KV cache per layer (or per block at `depth`), an aligned table with
    each row's share of the total."""
    from archspec.dims import as_plain, total
    from archspec.formats import human_bytes, table_blocks, terminal_width

    groups: dict[str, list[dict]] = {}
    for layer in layers:
        key = ".".join(layer["name"].split(".")[:depth]) if depth else layer["name"]
        groups.setdefault(key, []).append(layer)
    saved_total = as_plain(total(layer["saved_activations"] for layer in layers))
    rows = []
    for key, members in groups.items():
        saved = as_plain(total(m["saved_activations"] for m in members))
        cache = as_plain(total(m["kv_cache"] for m in members))
        if not saved and not cache:
            continue
        kind = members[0]["type"] if len(members) == 1 else f"{len(members)} layers"
        share = f"{100 * saved / saved_total:.1f}%" if isinstance(saved, int) and isinstance(saved_total, int) and saved_total else "-"
        rows.append([key, kind, human_bytes(saved), share, human_bytes(cache)])
    kv_total = as_plain(total(layer["kv_cache"] for layer in layers))
    rows.append(["total", "", human_bytes(saved_total), "100%" if saved_total else "-", human_bytes(kv_total)])
    header = ["layer" if not depth else "block", "type", "saved" if training else "saved (training)", "share", "kv cache"]
    return "\n".join(table_blocks(header, rows, {2, 3, 4}, terminal_width()))


def _time(args: argparse.Namespace) -> int:
    from archspec.parallel import Layout
    from archspec.timing.commands import run_time
    from archspec.timing.training import require_numbers

    bindings, limits = _bindings_and_limits(args)
    options = _memory_options(args)
    if not options.training:
        raise _UsageError("archspec time models training; for inference bounds use archspec roofline (--decode)")
    layout = _layout(args) or Layout()
    if args.gpus is not None:
        rest = layout.tp * layout.pp * layout.cp
        if args.dp == 1 and args.gpus % rest == 0:
            layout = replace(layout, dp=args.gpus // rest)
        if layout.devices != args.gpus:
            raise _UsageError(f"--gpus {args.gpus} is not dp x tp x pp x cp = {layout.devices}")
    report = _analyze(args, limits, bindings, training=True)
    require_numbers(report)  # before the batch is read as a number below
    if args.global_batch is not None:
        batch = int(next(iter(report.inputs.values()))[0])
        if args.global_batch % (batch * layout.dp):
            raise _UsageError(f"--global-batch {args.global_batch} is not a multiple of B x dp = {batch * layout.dp}")
        layout = replace(layout, microbatches=args.global_batch // (batch * layout.dp))
    return run_time(args, report, options, layout, _efficiency(args))


def _parallel_memory(args: argparse.Namespace, report, options, layout) -> int:
    """archspec memory with a parallel layout: per-device memory and communication per step."""
    from archspec.formats import human_bytes, grouped
    from archspec.dims import is_concrete
    from archspec.parallel import parallel_memory
    from archspec.parallel.memory import COMPONENTS

    if not options.training:
        raise _UsageError("a parallel layout gives per-device training memory: drop --inference (or the layout options)")
    result = parallel_memory(report, options, layout)
    if args.format == "json":
        data = {"name": report.name, "options": {k: getattr(options, k) for k in options.__dataclass_fields__},
                "memory": result.to_dict()}
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"{report.name}: training memory per device, {options.dtype}, {options.optimizer}; {layout.describe()} "
          f"({layout.devices} devices)")
    loaded = result.most_loaded_stage
    if loaded is None:
        print("  (formulas: the most loaded figures are each the largest over the stages)")
    classes = [("first_stage", "first stage" + (" (the most loaded)" if loaded == 0 else "")),
               ("last_stage", "last stage" + (" (the most loaded)" if loaded == layout.pp - 1 else ""))]
    if loaded not in (0, layout.pp - 1):
        classes.append(("most_loaded", f"most loaded (stage {loaded})"))
    if layout.pp == 1:
        classes = [("most_loaded", "each device")]
    width = max(len(k) for k in COMPONENTS)

    def cell(value):
        return f"{human_bytes(value):>12}  {grouped(value)} B" if is_concrete(value) else f"{value} B"

    for key, label in classes:
        print(f"  {label}:")
        for component in COMPONENTS:
            value = result.devices[key][component]
            if value != 0 or component in ("weights", "total"):
                print(f"    {component.ljust(width)}  {cell(value)}")
    comm = result.communication[result.most_loaded_stage or 0]
    if comm:
        print("  sent per step by the most loaded device, by parallel dimension:")
        labels = {(dim, kind): f"{dim} {kind}" for dim, kinds in comm.items() for kind in kinds}
        width = max(map(len, labels.values()), default=0)
        for (dim, kind), label in labels.items():
            print(f"    {label:<{width}}  {cell(comm[dim][kind])}")
    return EXIT_OK


def _peer_memory(args: argparse.Namespace, report, layout) -> int:
    """A peer's estimate for the layout (docs/parallel.md)."""
    from archspec.formats import grouped, human_bytes
    from archspec.parallel.profiles import (
        deepspeed_model_states, largest_layer_params, megatron_activations, megatron_model, megatron_weight_and_optimizer,
    )

    if args.convention == "megatron":
        model = megatron_model(report)
        figures = {"weight_and_optimizer": megatron_weight_and_optimizer(model, layout), "activations": megatron_activations(model, layout)}
        source = "Megatron-LM theoretical_memory_usage.py (bf16 params, fp32 grads and Adam; most loaded shard)"
    else:
        if layout.zero not in (2, 3):
            raise _UsageError("--convention deepspeed reproduces DeepSpeed's ZeRO-2 and ZeRO-3 estimators: add --zero 2 or --zero 3")
        gpus = layout.dp
        if gpus % args.gpus_per_node and gpus > args.gpus_per_node:
            raise _UsageError(f"--dp {gpus} is not a whole number of nodes of --gpus-per-node {args.gpus_per_node}")
        per_node = min(args.gpus_per_node, gpus)
        states = deepspeed_model_states(layout.zero, report.totals["params"], largest_layer_params(report), per_node, max(1, gpus // per_node))
        figures = {"gpu_model_states": states["gpu"], "cpu_model_states": states["cpu"]}
        source = f"DeepSpeed 0.19.8 estimate_zero{layout.zero}_model_states_mem_needs (no offload)"
    if args.format == "json":
        print(json.dumps({"name": report.name, "convention": args.convention, "source": source,
                          **{k: float(v) for k, v in figures.items()}}, indent=2))
        return EXIT_OK
    print(f"{report.name}: {source}; {layout.describe()}")
    for key, value in figures.items():
        exact = int(value) if value == int(value) else float(value)
        print(f"  {key:<22} {human_bytes(int(value)):>12}  {grouped(exact)} B")
    return EXIT_OK


def _plain(value):
    from archspec.report import _json_value

    return _json_value(value)


def _fit(args: argparse.Namespace) -> int:
    from archspec.dims import evaluate_at, is_concrete
    from archspec.formats import human_bytes
    from archspec.formula import fit, parse_budget, shares_by_type

    bindings, limits = _bindings_and_limits(args)
    metric = next(m for m in ("params", "macs", "flops", "memory") if getattr(args, m) is not None)
    text = getattr(args, metric)
    if metric == "memory" and not any(c.isalpha() for c in text):
        raise _UsageError(f"--memory {text}: give a unit (e.g. {text}GiB, {text}GB or {text}B); a bare number is ambiguous")
    budget = parse_budget(text)
    name = args.target
    bindings[name] = None
    options = _memory_options(args)
    if args.decode:
        options = replace(options, training=False)  # decoding: weights, KV cache and one token's activations
    training = metric == "memory" and options.training
    report = _analyze(args, limits, bindings, decode=args.decode, training=training)
    layout = _layout(args)
    if layout is not None and metric == "memory" and not options.training:
        raise _UsageError("a parallel layout gives per-device training memory: drop --inference (or the layout options)")
    options = replace(options, layout=layout if metric == "memory" else None)
    if metric == "memory":
        from archspec.memory import memory

        key = "training_total" if options.training else "inference_total"
        result = memory(report, options)
        formula = result.totals[key] if layout is None else result.per_device.devices["most_loaded"]["total"]
        report = replace(report, totals={**report.totals, "memory": formula})
    else:
        formula = report.totals[metric]
    others = sorted(str(s) for s in getattr(formula, "free_symbols", ()) if str(s) != name)
    if others:
        print(f"error: {metric} still depends on {', '.join(others)}; bind them with --set", file=sys.stderr)
        return EXIT_SPEC

    def metric_at(n: int):
        value = evaluate_at(formula, {name: n})
        return value if is_concrete(value) else int(value)

    def shares_at(n: int):
        if metric == "memory":
            from archspec.memory import memory

            result = memory(report.subs(**{name: n}), options)
            parts = result.totals if layout is None else result.per_device.devices["most_loaded"]
            keys = (
                ("weights", "buffers", "inference_peak", "kv_cache")
                if not options.training
                else ("weights", "buffers", "gradients", "optimizer", "master_weights", "saved_activations")
            )
            return {key: parts[key] for key in keys if parts[key]}
        return {kind: evaluate_at(v, {name: n}) for kind, v in shares_by_type(report.layers, metric).items()}

    result = fit(metric_at, shares_at, name, metric, budget)
    from archspec.errors import ArchspecError

    if result.value:
        # the formula fits the budget there; the network must also stay within the limits
        try:
            _analyze(args, limits, {**bindings, name: result.value}, decode=args.decode, training=training)
        except ArchspecError as exc:
            raise ArchspecError(
                f"{name} = {result.value:,} keeps {metric} within the budget, but the network is refused there: "
                f"{str(exc).splitlines()[-1].strip()}"
            ) from None
    if args.format == "json":
        print(json.dumps({
            "name": report.name, "for": name, "metric": metric, "budget": budget, "value": result.value,
            "at_value": result.at_value, "at_next": result.at_next,
            "largest_shares": [{"type": kind, metric: value} for kind, value in result.dominant],
        }, indent=2))
        return EXIT_OK
    unit = (lambda v: f"{v:,} ({human_bytes(v)})") if metric == "memory" else (lambda v: f"{v:,}")
    if result.value == 0:
        print(f"{report.name}: no {name} fits: {metric} at {name}=1 is {unit(result.at_next)}, over the budget {unit(budget)}",
              file=sys.stderr)
        return EXIT_SPEC
    shares = ", ".join(f"{kind} {100 * value / result.at_value:.1f}%" for kind, value in result.dominant if result.at_value)
    print(f"{report.name}: largest {name} with {metric} <= {unit(budget)}: {name} = {result.value:,}")
    print(f"  {metric} at {name}={result.value:,}: {unit(result.at_value)}")
    print(f"  {metric} at {name}={result.value + 1:,}: {unit(result.at_next)} (over)")
    print(f"  largest shares at {name}={result.value:,}: {shares}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
