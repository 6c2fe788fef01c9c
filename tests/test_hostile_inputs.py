"""Hostile and huge inputs: numbers that would explode and files that are too big or not text
are each refused with a clean, located error before the work starts, never with "this is a
bug in archspec"."""

import re

import pytest

from archspec.cli import main

SPEC = """params: {B: 1, k: 3}
inputs: {x: {shape: [B, 3, 32, 32]}}
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: k}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(SPEC)
    return path


def _run(capsys, *args):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "bug in archspec" not in err
    return code, err


@pytest.mark.parametrize("binding, message", [
    ("B=1e99999999", "out of range"),            # a literal expanded exactly would hang
    ("B=(1/3)**-(10**60)", "too large"),          # the denominator grows with the power
    ("k=0.5**(10**9)", "too large"),              # 9-17 s and 446 MB before
    ("B=2**128*2**128*2**128", "257 bits"),       # each power under the cap, the product not
    ("B=(1/2)**30000", "too large"),
])
def test_exploding_bindings_are_refused(capsys, spec, binding, message):
    code, err = _run(capsys, "analyze", spec, "--set", binding)
    assert code == 1 and message in err and "--set" in err


@pytest.mark.parametrize("text, message", [
    ("params: {B: 1e4300}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "out of range"),
    ("params: {B: " + "9" * 4301 + "}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "4301 digits"),
    ("inputs: {x: {shape: [1, 3, 8]}}\nlayers: [{type: GRU, hidden_size: 4, num_layers: '4e400'}]\n", "out of range"),
    ("params: {B: 1, k: true}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "found true"),  # not silently 1
    ("params: {B: 1, k: .inf}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "finite"),
])
def test_exploding_literals_in_a_spec_are_located_errors(capsys, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, err = _run(capsys, "analyze", path)
    assert code == 1 and message in err and f"{path}:" in err


def test_budgets_and_metrics_out_of_range(capsys, spec):
    code, err = _run(capsys, "fit", spec, "--for", "B", "--macs", "1e5000")
    assert code == 1 and "out of range" in err
    code, err = _run(capsys, "fit", spec, "--for", "B", "--macs", "1e70")
    assert code == 1 and "every B up to 2**62 fits" in err
    code, err = _run(capsys, "sweep", spec, "--metrics", ",", "--grid", "B=1,2")
    assert code == 1 and "names no metric" in err
    code, err = _run(capsys, "sweep", spec, "--grid", "B=9223372036854775808")
    assert code == 1 and "2**62" in err


@pytest.mark.parametrize("content, message", [
    ("inputs: {x: {shape: [1, 3]}}\nlayers: [ReLU]\n".encode("utf-16"), "UTF-16; save it as UTF-8"),
    ("inputs: {x: {shape: [1, 3]}}\nlayers: [ReLU]\n".encode("utf-32"), "UTF-32"),
    ("# caf\xe9\ninputs: {x: {shape: [1, 3]}}\nlayers: [ReLU]\n".encode("latin-1"), "not UTF-8 (byte 5: 0xe9)"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50, "binary"),
])
def test_files_that_are_not_utf8_text(capsys, tmp_path, content, message):
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    code, err = _run(capsys, "analyze", path)
    assert code == 1 and message in err


def test_files_too_big_or_not_regular_are_refused_before_reading(capsys, tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(8 * 2**20 + 1)  # one byte over the documented 8 MiB; sparse: nothing is written
    code, err = _run(capsys, "analyze", big)
    assert code == 1 and "a spec is at most" in err
    endless = tmp_path / "zero.yaml"
    endless.symlink_to("/dev/zero")
    code, err = _run(capsys, "analyze", endless)
    assert code == 1 and "not a regular file" in err


def test_many_plain_values_are_not_called_an_alias_bomb(tmp_path):
    import archspec
    from archspec.errors import SpecError

    path = tmp_path / "wide.yaml"
    path.write_text("inputs: {x: {shape: [1, 4]}}\nlayers:\n" + "  - {type: ReLU, name: r}\n" * 40_000)
    with pytest.raises(SpecError, match="far larger than any network"):
        archspec.analyze(path)
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, n in zip("abcde", "bcdef"))
    with pytest.raises(SpecError, match="alias bomb"):
        archspec.analyze(bomb)


@pytest.mark.parametrize("name, message", [
    ('"x\\nimport os"', r"control character '\n'"),
    ('"ok\\x1b[31m"', r"control character '\x1b'"),
])
def test_spec_names_hold_printable_text_only(capsys, tmp_path, name, message):
    path = tmp_path / "n.yaml"
    path.write_text(f"name: {name}\ninputs: {{x: {{shape: [1, 3]}}}}\nlayers: [ReLU]\n")
    code, err = _run(capsys, "analyze", path)
    assert code == 1 and message in err


def test_layer_names_are_identifiers(capsys, tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text("inputs: {x: {shape: [1, 3]}}\nlayers: [{type: ReLU, name: '=cmd|x'}]\n")
    code, err = _run(capsys, "analyze", path)
    assert code == 1 and "letters, digits and _" in err


def test_generated_python_parses_with_keyword_params(capsys, tmp_path):
    import ast

    path = tmp_path / "k.yaml"
    path.write_text("params: {lambda: null, class: 4, None_: 1}\ninputs: {x: {shape: [lambda, class]}}\nlayers: [ReLU]\n")
    assert main(["formula", str(path), "--format", "python"]) == 0
    module = capsys.readouterr().out
    ast.parse(module)
    namespace: dict = {}
    exec(compile(module, "formulas", "exec"), namespace)  # the test runs the generated file, as a user would
    assert namespace["flops"](3) == 4 * 3


def test_latex_and_markdown_escape_their_markup():
    from archspec.formats import markdown_text
    from archspec.formula import _latex_text

    assert _latex_text("a_b{c}$&#^%~\\") == r"a\_b\{c\}\$\&\#\^{}\%\~{}\textbackslash{}"
    assert markdown_text("net|*x*") == r"net\|\*x\*"


def test_fit_never_reports_a_value_the_limits_refuse(capsys):
    from tests.conftest import SPECS

    code, err = _run(capsys, "fit", SPECS / "resnet18.yaml", "--for", "depth1", "--params", "1e12")
    assert code == 1 and "max_repeat" in err and "13,516,279" in err


def test_lambdify_and_subs_raise_the_projects_errors():
    import archspec
    from archspec.errors import ArchspecError
    from tests.conftest import SPECS

    report = archspec.analyze(SPECS / "resnet18.yaml", B=None)
    assert report.lambdify("B", "macs")(2)["macs"] == archspec.analyze(SPECS / "resnet18.yaml", B=2).totals["macs"]
    for call in (lambda: report.lambdify("B", ["nope"]), lambda: report.lambdify(["Q"]), lambda: report.subs(Q=1),
                 lambda: report.subs(B=-3), lambda: report.subs(B=2.5)):
        with pytest.raises(ArchspecError):
            call()


def test_fit_memory_needs_a_unit_and_nothing_fitting_is_an_error(capsys):
    from tests.conftest import SPECS

    code, err = _run(capsys, "fit", SPECS / "gpt2.yaml", "--for", "B", "--memory", "24")
    assert code == 2 and "give a unit" in err
    code, err = _run(capsys, "fit", SPECS / "gpt2.yaml", "--for", "B", "--memory", "1MiB")
    assert code == 1 and "no B fits" in err and "(1.00 MiB)" in err


def test_ctrl_c_and_closed_pipes_end_cleanly(capsys, monkeypatch, tmp_path):
    import subprocess
    import sys

    from archspec import cli
    from tests.conftest import ROOT, SPECS

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    code, err = _run(capsys, "analyze", SPECS / "alexnet.yaml")
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    monkeypatch.undo()
    # a reader that closes the pipe early: no traceback, no "Exception ignored"
    reader = subprocess.run(f"{sys.executable} -m archspec analyze specs/gpt3_175b.yaml | head -1", shell=True,
                            cwd=ROOT, capture_output=True, text=True)
    assert reader.stderr == ""
    code, err = _run(capsys, "graph", SPECS / "alexnet.yaml", "-o", tmp_path / "missing" / "x.mmd")
    assert code == 1 and "No such file or directory" in err


def test_formulas_that_would_explode_are_refused(capsys, tmp_path):
    # a chain of params, each 80 copies of the previous multiplied: degree 80**6 if allowed
    params = ["  a0: null"] + [f"  a{i}: " + "*".join([f"a{i - 1}"] * 80) for i in range(1, 7)]
    path = tmp_path / "chain.yaml"
    path.write_text("params:\n" + "\n".join(params) + "\ninputs: {x: {shape: [1, 3]}}\nlayers: [ReLU]\n")
    code, err = _run(capsys, "analyze", path)
    assert code == 1 and "below degree 64" in err and "chain.yaml:3" in err


def test_every_input_bound_is_settable_with_limit(capsys, spec, tmp_path):
    """max_bits, max_file_bytes, max_values and max_scalar_chars: refused by default with the
    --limit that raises them named, accepted once raised (and a lowered one refuses)."""
    code, err = _run(capsys, "analyze", spec, "--set", "k=2**300 // 2**299 + 1")
    assert code == 1 and "beyond 2**256; --limit max_bits" in err
    assert _run(capsys, "analyze", spec, "--set", "k=2**300 // 2**299 + 1", "--limit", "max_bits=512")[0] == 0
    code, err = _run(capsys, "analyze", spec, "--limit", f"max_file_bytes={len(SPEC) - 1}")
    assert code == 1 and f"a spec is at most {len(SPEC) - 1}" in err and "--limit max_file_bytes" in err
    described = tmp_path / "described.yaml"
    described.write_text(f"description: {'x' * 10_001}\n" + SPEC)
    code, err = _run(capsys, "analyze", described)
    assert code == 1 and "a value of 10,001 characters" in err and ":1:14" in err
    assert _run(capsys, "analyze", described, "--limit", "max_scalar_chars=20000")[0] == 0
    wide = tmp_path / "wide.yaml"
    wide.write_text("inputs: {x: {shape: [1, 4]}}\nlayers:\n" + "  - {type: ReLU}\n" * 60_000)
    code, err = _run(capsys, "validate", wide)
    assert code == 1 and "--limit max_values" in err
    assert _run(capsys, "validate", wide, "--limit", "max_values=130000", "--limit", "max_layers=60000")[0] == 0


def test_a_raised_limit_does_not_outlive_its_analysis():
    """The parse cache remembers the limit a literal was checked against: 1e100 accepted under
    max_bits=512 is refused again at the default."""
    import archspec
    from archspec.errors import ArchspecError
    from archspec.limits import Limits

    spec = {"params": {"B": "1e100 // 1e99"}, "inputs": {"x": {"shape": ["B", 4]}}, "layers": ["ReLU"]}
    assert archspec.analyze(spec, limits=Limits(max_bits=512)).outputs
    with pytest.raises(ArchspecError, match="out of range"):
        archspec.analyze(spec)


def test_sweep_honours_limit(capsys, tmp_path):
    """--limit reaches every point of a sweep (it was parsed and dropped)."""
    deep = tmp_path / "deep.yaml"
    deep.write_text("params: {B: 1}\ninputs: {x: {shape: [B, 4]}}\nlayers:\n  - {type: ReLU, repeat: 12000}\n")
    # a point the limits refuse is an invalid point of the sweep, as a shape mismatch is
    assert main(["sweep", str(deep), "--grid", "B=1,2"]) == 0
    assert "(0 of 0 valid points" in capsys.readouterr().out
    assert main(["sweep", str(deep), "--grid", "B=1,2", "--limit", "max_repeat=12000"]) == 0
    assert "(2 of 2 valid points" in capsys.readouterr().out


def _dict_spec(**extra):
    spec = {"params": {"B": 1}, "inputs": {"x": {"shape": ["B", 4]}}, "layers": [{"type": "Linear", "out_features": 8}]}
    spec.update(extra)
    return spec


def _nested(levels):
    value = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _holding_itself():
    spec = _dict_spec()
    spec["layers"].append(spec)
    return spec


@pytest.mark.parametrize("spec, message", [
    (_dict_spec(layers=[{"type": "Linear", "out_features": 10 ** 5000}]),
     "layers.0.out_features: a number of 16,610 bits; numbers have at most"),
    (_dict_spec(name="n" * 200_000), "name: a value of 200,000 characters"),
    (_dict_spec(description=_nested(65)), "nests deeper than 64 levels"),   # the YAML reader's bound
    (_holding_itself(), "nests deeper than 64 levels (or holds itself)"),
])
def test_a_dict_spec_out_of_bounds_is_a_located_error(spec, message):
    """A spec given as a dict (the Python API) is bounded as a YAML file is: no RecursionError."""
    import archspec
    from archspec.errors import SpecError

    with pytest.raises(SpecError, match=re.escape(message)):
        archspec.analyze(spec)


def test_a_dict_spec_as_deep_as_a_yaml_file_may_be_is_read():
    from archspec.source import load_source

    assert load_source(_dict_spec(description=_nested(64))).data["description"] == _nested(64)
