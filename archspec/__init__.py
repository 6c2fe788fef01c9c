"""archspec: params, MACs and FLOPs of a network from a YAML spec, without PyTorch.

    >>> report = archspec.analyze("specs/vgg16.yaml", B=8)
    >>> report.totals["macs"]

Counting conventions: one MAC is one multiply-accumulate of a conv, linear (later
matmul, attention, recurrent) layer; FLOPs = 2 * MACs + every other floating-point
operation (docs/counting.md).
"""

from archspec.errors import ArchspecError, ShapeError, SpecError

__version__ = "0.1.0"
__all__ = ["analyze", "validate", "sweep", "import_spec", "Report", "ArchspecError", "SpecError", "ShapeError", "__version__"]


def __getattr__(name: str):
    # Lazy: `import archspec` stays cheap; pydantic and the layers load on first use.
    if name == "analyze":
        from archspec.engine import analyze

        return analyze
    if name == "validate":
        from archspec.spec import validate

        return validate
    if name == "sweep":
        from archspec.sweeps import sweep

        return sweep
    if name == "import_spec":
        from archspec.importers import import_spec

        return import_spec
    if name == "Report":
        from archspec.report import Report

        return Report
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")
