"""archspec: params, MACs, FLOPs, memory and time of a network from a YAML spec (or a
HuggingFace config, or an ONNX graph), as exact numbers or formulas, without PyTorch.

    >>> import archspec
    >>> report = archspec.analyze("specs/vgg16.yaml", B=8)
    >>> report.totals["macs"]
    >>> archspec.memory("specs/gpt2.yaml", dtype="bf16").totals["training_total"]
    >>> archspec.formula("specs/gpt2.yaml", "B", "L")["flops"]

Counting conventions: one MAC is one multiply-accumulate of a conv, linear, matmul,
attention or recurrent layer; FLOPs = 2 * MACs + every other floating-point operation
(docs/counting.md).
"""

from typing import TYPE_CHECKING

from archspec.errors import ArchspecError, ShapeError, SpecError

__version__ = "0.1.0"

# Loaded on first use, so that `import archspec` (and the CLI's start) stays cheap.
_LAZY = {
    "analyze": ("archspec.engine", "analyze"),
    "validate": ("archspec.spec", "validate"),
    # the modules archspec.memory, .formula and .compare are callable: archspec.api's functions
    "memory": ("archspec.memory", None),
    "formula": ("archspec.formula", None),
    "fit": ("archspec.api", "fit"),
    "compare": ("archspec.compare", None),
    "sweep": ("archspec.sweeps", "sweep"),
    "import_spec": ("archspec.importers", "import_spec"),
    "Report": ("archspec.report", "Report"),
    "MemoryOptions": ("archspec.memory", "MemoryOptions"),
    "Layout": ("archspec.parallel", "Layout"),
    "Limits": ("archspec.limits", "Limits"),
}
__all__ = [*_LAZY, "ArchspecError", "SpecError", "ShapeError", "__version__"]

if TYPE_CHECKING:  # for editors and type checkers: the same names, eagerly
    from archspec.api import compare, fit, formula, memory  # (reached through callable modules at run time)
    from archspec.engine import analyze
    from archspec.importers import import_spec
    from archspec.limits import Limits
    from archspec.memory import MemoryOptions
    from archspec.parallel import Layout
    from archspec.report import Report
    from archspec.spec import validate
    from archspec.sweeps import sweep


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = importlib.import_module(module)
        value = value if attribute is None else getattr(value, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
