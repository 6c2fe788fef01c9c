"""Packaging: the package list, the version, the zoo inside the package, and the clash with the
other `archspec` on the package index."""

import tomllib

from archspec.cli import _other_archspec, main
from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_is_listed_for_the_wheel():
    listed = set(PROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "archspec").rglob("__init__.py")}
    assert listed == found | {"archspec.zoo"}
    assert PROJECT["tool"]["setuptools"]["package-dir"]["archspec.zoo"] == "specs"


def test_the_version_is_one():
    import archspec

    assert archspec.__version__ == PROJECT["project"]["version"]
    assert PROJECT["project"]["name"] == "archspec-nn"  # "archspec" on the index is another library


def test_the_zoo_is_listed_and_analyzed_by_name(capsys):
    assert main(["zoo", "--format", "json"]) == 0
    import json

    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["resnet50"]["params"] == 25_557_032 and len(entries) == len(list((ROOT / "specs").glob("*.yaml")))
    assert main(["analyze", "zoo:resnet50", "--format", "json"]) == 0
    assert main(["analyze", "zoo:resnet5"]) == 1
    assert "did you mean 'resnet50'" in capsys.readouterr().err


def test_the_other_archspec_in_the_same_environment_is_named(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "engine.py").write_text("")
    message = _other_archspec(tmp_path)
    assert message and "CPU-microarchitecture" in message and "own virtual environment" in message
    assert _other_archspec(ROOT / "archspec") is None
