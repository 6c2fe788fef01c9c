"""Modules that are also the top-level function of the same name.

`archspec.memory`, `archspec.formula` and `archspec.compare` are modules, and Python binds a
package's attribute to its submodule once the submodule is imported; so the top-level
functions of those names (archspec.api) are reached by calling the module itself:
`archspec.memory("specs/gpt2.yaml", dtype="bf16")`.
"""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, function_name: str) -> None:
    """Calling the module calls archspec.api.<function_name>."""
    module = sys.modules[module_name]

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            from archspec import api  # the API sits above this module; loaded when called

            return getattr(api, function_name)(*args, **kwargs)

    CallableModule.__call__.__doc__ = f"archspec.api.{function_name}: see help(archspec.api.{function_name})"
    module.__class__ = CallableModule
