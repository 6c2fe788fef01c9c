"""The `archspec` command: a thin layer of argument parsing over the library.

Exit codes: 0 success, 1 spec or shape error (message on stderr, no traceback),
2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

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


def build_parser() -> argparse.ArgumentParser:
    from archspec import __version__
    from archspec.formats import FORMATS

    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Params, MACs and FLOPs of a network from a YAML spec, without PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"archspec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
            help="raise a resource limit: max_layers, max_repeat or max_dim (see archspec.limits)",
        )
        sub.add_argument("--debug", action="store_true", help="show a traceback on errors")
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
    add_spec_command("validate", "check a spec (format and shapes) without printing the analysis")
    commands.add_parser("schema", help="print the JSON Schema of the spec format")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return _run(args)
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the boundary: no traceback for users
        from archspec.errors import ArchspecError

        if getattr(args, "debug", False):
            traceback.print_exc()
        if isinstance(exc, ArchspecError):
            print(f"error: {exc}", file=sys.stderr)
        else:
            print(
                f"internal error: {type(exc).__name__}: {exc}\n(this is a bug in archspec; rerun with --debug for details)",
                file=sys.stderr,
            )
        return EXIT_SPEC


def _run(args: argparse.Namespace) -> int:
    if args.command == "schema":
        from archspec.spec import json_schema

        print(json.dumps(json_schema(), indent=2))
        return EXIT_OK

    from archspec.engine import analyze

    bindings = {}
    for name, value in args.bindings:
        if name in bindings:
            print(f"archspec: error: --set {name} is given twice", file=sys.stderr)
            return EXIT_USAGE
        bindings[name] = value
    from archspec.limits import Limits

    limits = {}
    for name, value in args.limits:
        if name not in Limits.names() or not value.isdigit():
            print(f"archspec: error: --limit takes one of {', '.join(Limits.names())} = a whole number, found {name}={value}", file=sys.stderr)
            return EXIT_USAGE
        limits[name] = int(value)
    report = analyze(args.spec, limits=Limits(**limits), **bindings)
    if args.command == "validate":
        from archspec.formats import shape_text

        outputs = ", ".join(f"{name} {shape_text(shape)}" for name, shape in report.outputs.items())
        print(f"ok: {report.name}: {len(report.layers)} layers, output {outputs}")
        return EXIT_OK

    from archspec.formats import render

    if args.depth is not None:
        report = report.collapsed(args.depth)
    print(render(report, args.format))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
