"""Packaging: metadata current setuptools accepts, lower bounds the code needs, no private scikit-learn API."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS = [ROOT / d for d in PYPROJECT["tool"]["setuptools"]["package-dir"].values()]


def _lower_bound(name: str) -> Version:
    for raw in PYPROJECT["project"]["dependencies"]:
        req = Requirement(raw)
        if req.name.lower() == name:
            return min(Version(s.version) for s in req.specifier if s.operator == ">=")
    raise AssertionError(f"{name} is not a dependency")


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"
    assert not any(c.startswith("License ::") for c in PYPROJECT["project"]["classifiers"])  # setuptools refuses both
    [setuptools] = [Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert Version("77") in setuptools.specifier and Version("76.1") not in setuptools.specifier


@pytest.mark.parametrize(("name", "needed", "why"), [
    ("scikit-learn", "1.6", "sklearn.utils.validation.validate_data, __sklearn_tags__, ensure_all_finite"),
    ("edfio", "0.4.16", "EdfSignal.from_digital (0.4.16) and read_bdf (0.4.10)"),
    ("scipy", "1.11.2", "1.11.0 is yanked and the first Python 3.12 wheels are 1.11.2's"),
    ("skops", "0.11", "skops 0.10 fails to import with scikit-learn 1.6 (sklearn.linear_model._sgd_fast.Huber)"),
])
def test_lower_bounds_cover_the_apis_the_code_calls(name, needed, why):
    assert _lower_bound(name) >= Version(needed), why


def _package_files():
    for folder in PACKAGE_DIRS:
        yield from sorted(folder.rglob("*.py"))


def test_no_private_scikit_learn_imports():
    private = []
    for path in _package_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sklearn"):
                names = [node.module + "." + a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("sklearn")]
            private += [f"{path.relative_to(ROOT)}: {n}" for n in names if re.search(r"\._", n)]
    assert not private, private


def _min_constraints():
    spec = importlib.util.spec_from_file_location("min_constraints", ROOT / ".ci" / "min_constraints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_min_constraints_pin_every_lower_bound(tmp_path):
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[project]\nname = "x"\ndependencies = ["numpy>=1.26", "dask[distributed]>=2024.8.0", "six"]\n'
                    '[project.optional-dependencies]\ntest = ["pytest>=8.0, <10"]\nother = ["ruff>=0.5"]\n')
    assert _min_constraints().lowest_pins(toml, ["test"]) == ["dask==2024.8.0", "numpy==1.26", "pytest==8.0"]
    with pytest.raises(SystemExit, match="unknown extra"):
        _min_constraints().lowest_pins(toml, ["tset"])


def test_min_constraints_cover_the_real_project():
    pins = _min_constraints().lowest_pins(ROOT / "pyproject.toml", ["test", "viewer"])
    assert "scikit-learn==1.6" in pins and any(p.startswith("PySide6-Essentials==") for p in pins)
    assert len(pins) == len(PYPROJECT["project"]["dependencies"]) + sum(
        len(PYPROJECT["project"]["optional-dependencies"][e]) for e in ("test", "viewer"))


def test_bundled_model_loads_quietly_under_another_scikit_learn(monkeypatch):
    import warnings

    import sklearn.base
    from eegmon.detectors import load_detector

    monkeypatch.setattr(sklearn.base, "__version__", "1.6.0")  # not the version that fitted the bundled forest
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, _ = load_detector("classifier", None)
    assert model.estimator.n_features_in_ > 0
