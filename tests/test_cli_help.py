"""Every command's --help has a description and examples, and every example runs."""

import shlex

import pytest

from archspec.cli import COMMANDS, EXAMPLES, build_parser, main
from tests.conftest import ROOT

# examples that need a file the user has (their config or model): run on one the tests have
STAND_INS = {"config.json": str(ROOT / "tests" / "reference" / "hf_configs" / "llama_small.json")}


def test_every_command_has_examples_and_a_description():
    assert set(EXAMPLES) == set(COMMANDS)
    parser = build_parser()
    actions = next(a for a in parser._actions if a.dest == "command")
    for name, sub in actions.choices.items():
        assert sub.description and "examples:" in sub.format_help(), name


EVERY = [(name, example) for name, examples in EXAMPLES.items() for example in examples if "model.onnx" not in example]


@pytest.mark.parametrize("name, example", EVERY, ids=[e for _, e in EVERY])
def test_every_example_runs(name, example, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    words = [STAND_INS.get(w, w) for w in shlex.split(example)]
    assert words[0] == "archspec"
    assert main(words[1:]) == 0, capsys.readouterr().err


def test_the_ep_dispatch_choices_are_the_layouts():
    from archspec.cli import build_parser
    from archspec.parallel.layout import EP_DISPATCH

    for command in ("memory", "plan"):
        sub = build_parser(only=command)._subparsers._group_actions[0].choices[command]
        (action,) = [a for a in sub._actions if "--ep-dispatch" in a.option_strings]
        assert tuple(action.choices) == EP_DISPATCH
