"""Fuzzing the reader, validator and engine: every input either analyzes or raises archspec's own error.

Mutations of every zoo spec (dropped keys, wrong types, bad sizes, huge numbers, unicode
names, deleted layers, shuffled `from` names) and random YAML documents. A case may not
raise anything but `ArchspecError`, and may not take more than a few seconds.
"""

import copy
import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import ArchspecError
from tests.conftest import SPECS

ZOO = sorted(path.name for path in SPECS.glob("*.yaml"))
TEXTS = {name: (SPECS / name).read_text() for name in ZOO}
SECONDS_PER_CASE = 5.0

ODD_VALUES = [
    0, -1, -7, 1, 2, 3, 10**40, 2**63, 1.5, -0.0, 1e308, True, False, None, "", "ü名", "x" * 600,
    "2**2**2**40", "H*", "H//0", "1/0", "null", "B", "-B", "max()", "ceil(H/0)", "(" * 50, [], [1, 2], [-1, 0],
    {}, {"type": "ReLU"}, "Conv2d", "input", "layer1.0", "split.7", "make_divisible(H, 8)", "H == 3",
]
# numbers that would explode if computed before they are bounded (each once hung or crashed)
EXPLOSIVE = [
    "1e99999999", "(1/3)**-(10**60)", "0.5**(10**9)", "2**128*2**128*2**128", "(1/2)**30000", "4e400", "1e4300",
    10**4301, int("9" * 120), float("inf"), float("-inf"), "9" * 400, "B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B",
    "(B+1)**64*(B+2)**64", "ceil(10**80/3)", "-(2**255)", "2**256", "make_divisible(10**79, 7)",
]
# names that must be refused, or come out escaped in every format
HOSTILE_NAMES = ["=cmd|' /C calc'!A0", "a|b", "x\nimport os", "\x1b[31mred", "lambda", "None", "_", "a" * 300,
                 "<script>", "$\\&{}", "`x`", "名前"]


def analyze_bounded(spec, **bindings):
    """Analyze; only archspec's errors are allowed, and only within the time bound."""
    start = time.perf_counter()
    try:
        archspec.analyze(spec, **bindings)
    except ArchspecError as exc:
        assert str(exc)  # every error says something
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS_PER_CASE, f"took {elapsed:.1f} s"


def paths(node, prefix=()):
    """Every path into a nested structure of dicts and lists."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def parent_of(data, path):
    for key in path[:-1]:
        data = data[key]
    return data


def layer_names_in(data):
    names = set()
    for path in paths(data):
        if path and path[-1] == "name":
            value = parent_of(data, path)[path[-1]]
            if isinstance(value, str):
                names.add(value)
    return sorted(names) or ["x"]


@st.composite
def mutated_specs(draw):
    name = draw(st.sampled_from(ZOO))
    data = yaml.safe_load(TEXTS[name])
    for _ in range(draw(st.integers(1, 3))):
        targets = [p for p in paths(data) if p]
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        container, key = parent_of(data, path), path[-1]
        action = draw(st.sampled_from(["drop", "replace", "replace", "from", "swap", "grow"]))
        if action == "drop":
            del container[key]
        elif action == "replace":
            container[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES + EXPLOSIVE)))
        elif action == "grow" and isinstance(container[key], int) and not isinstance(container[key], bool):
            container[key] = container[key] * 10 ** draw(st.integers(1, 90))  # a size mutation
        elif action == "from" and isinstance(container, dict):
            names = layer_names_in(data)
            container["from"] = draw(st.one_of(st.sampled_from(names), st.lists(st.sampled_from(names), max_size=3)))
        elif action == "swap" and isinstance(container, list) and len(container) > 1:
            other = draw(st.integers(0, len(container) - 1))
            container[key], container[other] = container[other], container[key]
    return data


@settings(max_examples=3 * settings().max_examples, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_specs(), st.booleans())
def test_mutated_zoo_specs_analyze_or_fail_cleanly(data, as_text):
    try:
        spec = yaml.safe_dump(data, allow_unicode=True, sort_keys=False) if as_text else data
    except ValueError:  # PyYAML cannot write a 4,301-digit integer; the dict goes in as it is
        spec = data
    analyze_bounded(spec)


@settings(max_examples=settings().max_examples, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_specs(), st.sampled_from(["B", "H", "W", "width_mult", "depth3", "n3", "nz"]))
def test_mutated_specs_with_a_free_param_fail_cleanly(data, free):
    params = data.get("params") if isinstance(data, dict) else None
    if isinstance(params, dict) and free in params:
        analyze_bounded(data, **{free: None})
    else:
        analyze_bounded(data)


json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=12)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["type", "name", "from", "repeat", "layers", "inputs", "shape", "params",
                                         "blocks", "args", "outputs", "out_channels", "kernel_size", "x", "B"]),
                        children, max_size=4),
    ),
    max_leaves=25,
)


@given(json_like)
def test_random_documents_fail_cleanly(data):
    analyze_bounded(yaml.safe_dump(data, allow_unicode=True))
    analyze_bounded({"inputs": {"x": {"shape": [1, 3, 8, 8]}}, "layers": [data]} if not isinstance(data, list) else {"inputs": {"x": {"shape": [1, 3]}}, "layers": data})


@given(st.text(max_size=200))
def test_random_text_fails_cleanly(text):
    analyze_bounded(text + "\n")


@settings(max_examples=settings().max_examples, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ZOO), st.sampled_from(["B", "H", "W", "L", "width_mult", "depth3"]),
       st.sampled_from(EXPLOSIVE + ODD_VALUES))
def test_explosive_bindings_fail_cleanly(name, param, value):
    data = yaml.safe_load(TEXTS[name])
    if isinstance(value, (int, float, str)) and param in data.get("params", {}):
        analyze_bounded(data, **{param: value})


@settings(max_examples=settings().max_examples, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=40)), st.booleans())
def test_hostile_names_are_refused_or_safe_in_every_format(name, as_layer):
    import ast
    import csv
    import io

    from archspec.formats import render
    from archspec.formula import formulas, render_formulas

    spec = {"name": "net", "params": {"B": None}, "inputs": {"x": {"shape": ["B", 3]}},
            "layers": [{"type": "ReLU", "name": name if as_layer else "relu"}]}
    if not as_layer:
        spec["name"] = name
    try:
        report = archspec.analyze(spec)
    except ArchspecError:
        return  # refused: fine
    for fmt in ("table", "json", "csv", "markdown"):
        text = render(report, fmt)
        assert "\x1b" not in text
    rows = list(csv.reader(io.StringIO(render(report, "csv"))))
    assert rows[1][0] == report.layers[0].name  # the CSV reads back
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row[:1])
    module = render_formulas(report.name, formulas(report.totals, ("params", "macs", "flops")), ["B"], "python", [])
    ast.parse(module)  # never code, whatever the name
