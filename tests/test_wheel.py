"""The wheel and the sdist as users get them.

A session fixture builds the wheel (``maturin build --release``, incremental
on ``target/``) and installs it with pip into a fresh virtualenv, which gets
only the dependencies the wheel declares, from PyPI. Scripts then run there
with no Rust toolchain on ``PATH``: training, prediction, save and load,
pickling, threadpoolctl, and the README's install example verbatim.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from readme_blocks import readme_block

import fnn

ROOT = Path(__file__).resolve().parents[1]
#: Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"sklearn": "scikit-learn"}
#: Extras that are never imported by fnn itself.
TOOL_EXTRAS = {"torch", "dask", "ray", "test"}


def _pyproject() -> dict:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    """The distribution name of a requirement string, normalised."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports(paths) -> set[str]:
    """Distribution names of the non-stdlib modules the files import, anywhere."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "fnn" and top not in sys.stdlib_module_names:
                    found.add(_name(DISTRIBUTIONS.get(top, top)))
    return found


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names is 3.10+")
def test_declared_dependencies_are_exactly_what_the_package_imports():
    project = _pyproject()["project"]
    declared = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    package = ROOT / "python" / "fnn"
    lab, onnx = package / "lab", package / "onnx"
    core_files = [p for p in package.rglob("*.py") if not {lab, onnx} & set(p.parents)]
    assert _third_party_imports(core_files) == declared
    lab_needs = _third_party_imports(lab.rglob("*.py")) - declared
    assert lab_needs == {_name(r) for r in extras["lab"]}
    # The onnx extra adds the runtime that serves the graphs, which fnn never imports.
    onnx_needs = _third_party_imports(onnx.rglob("*.py")) - declared
    assert onnx_needs | {"onnxruntime"} == {_name(r) for r in extras["onnx"]}
    assert TOOL_EXTRAS <= set(extras)


def _maturin() -> str:
    beside = Path(sys.executable).with_name("maturin")
    found = str(beside) if beside.exists() else shutil.which("maturin")
    if found is None:
        pytest.skip("maturin is not installed (make venv installs it)")
    return found


def _build_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CONDA_PREFIX"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    command = [_maturin(), "build", "--release", "--interpreter", sys.executable, "--out", out]
    built = subprocess.run(
        command, cwd=ROOT, env=_build_env(), capture_output=True, text=True, timeout=1800
    )
    assert built.returncode == 0, built.stderr[-4000:]
    (path,) = out.glob("fnn-*.whl")
    return path


def _no_rust_path(venv_bin: Path) -> str:
    """PATH with the virtualenv and the system's basic directories, without cargo."""
    dirs = [str(venv_bin)]
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        if not any(Path(folder, tool).exists() for tool in ("cargo", "rustc")):
            dirs.append(folder)
    return os.pathsep.join(dirs)


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory):
    """A fresh virtualenv with the wheel installed; returns ``run(code) -> stdout``."""
    home = tmp_path_factory.mktemp("wheel_venv")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    python = venv / "bin" / "python"
    pip = subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", wheel],
        env={**os.environ, "PIP_NO_INPUT": "1"},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-4000:]
    work = home / "work"  # not the repository, so `python/fnn` cannot shadow the wheel
    work.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CARGO", "RUSTUP", "PYTHON", "VIRTUAL_ENV", "CONDA"))
    }
    env["PATH"] = _no_rust_path(python.parent)

    def run(code: str) -> str:
        done = subprocess.run(
            [python, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-4000:]
        return done.stdout

    run.python = python
    return run


def test_wheel_is_abi3_with_the_extension_and_the_declared_metadata(wheel):
    size = wheel.stat().st_size
    print(f"\nwheel: {wheel.name}, {size / 1024:.0f} KiB")
    assert re.fullmatch(rf"fnn-{re.escape(fnn.__version__)}-cp39-abi3-\w+\.whl", wheel.name)
    assert size < 5 * 1024 * 1024
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = archive.read(metadata).decode()
    assert {"fnn/_core.abi3.so", "fnn/__init__.py", "fnn/stream.py", "fnn/py.typed"} <= names
    assert not any(n.startswith(("tests/", "rust/")) for n in names)
    requires = re.findall(r"^Requires-Dist: (.+)$", meta, re.M)
    plain = {_name(r) for r in requires if "extra ==" not in r}
    assert plain == {_name(r) for r in _pyproject()["project"]["dependencies"]}
    assert set(re.findall(r"^Provides-Extra: (.+)$", meta, re.M)) >= TOOL_EXTRAS | {"lab", "onnx"}


WORKS_WITHOUT_RUST = r"""
import importlib.util, json, pickle, shutil, sys
assert shutil.which("cargo") is None and shutil.which("rustc") is None
import numpy as np
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_info
import fnn
from fnn import FNNClassifier, FNNRegressor

X, y = load_digits(return_X_y=True)
X = X / 16
clf = FNNClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
clf.fit(X, y)
fnn.save(clf, "clf.fnn")
loaded = fnn.load("clf.fnn")
reg = FNNRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, X[:, 20])
print(json.dumps({
    "file": fnn.__file__,
    "accuracy": clf.score(X, y),
    "same_after_load": bool((loaded.predict_proba(X) == clf.predict_proba(X)).all()),
    "same_after_pickle": bool((pickle.loads(pickle.dumps(clf)).predict(X) == clf.predict(X)).all()),
    "regressor_r2": reg.score(X, X[:, 20]),
    "threadpoolctl": [i["internal_api"] for i in threadpool_info()],
    "numpy_engine_agrees": bool(np.allclose(
        FNNClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0, engine="numpy")
        .fit(X, y).coefs_[0],
        FNNClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y).coefs_[0],
        rtol=1e-6, atol=1e-9,
    )),
    "not_installed": [m for m in ("matplotlib", "pandas", "dask", "ray", "torch", "maturin")
                      if importlib.util.find_spec(m) is None],
    "imported": sorted({m.split(".")[0] for m in sys.modules} & {"matplotlib", "pandas", "tqdm"}),
}))
"""


def test_wheel_trains_predicts_saves_and_loads_in_a_fresh_venv_without_rust(installed):
    report = json.loads(installed(WORKS_WITHOUT_RUST).splitlines()[-1])
    assert "site-packages" in report["file"]
    assert report["accuracy"] > 0.98
    assert report["same_after_load"] and report["same_after_pickle"]
    assert report["regressor_r2"] > 0.5
    assert "fnn" in report["threadpoolctl"]
    assert report["numpy_engine_agrees"]
    # Only the declared dependencies came with it, and importing fnn needs no more.
    assert report["not_installed"] == ["matplotlib", "pandas", "dask", "ray", "torch", "maturin"]
    assert report["imported"] == []
    check = subprocess.run(
        [installed.python, "-m", "pip", "check"], capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stdout


def test_readme_install_commands_and_five_line_example_work_verbatim(installed):
    readme = (ROOT / "README.md").read_text()
    assert "make wheel" in readme and "pip install dist/fnn-*.whl" in readme
    example = readme_block("install-example")
    assert len(example.strip().splitlines()) == 5
    printed = installed(example).split()
    assert float(printed[-1]) > 0.98


def test_sdist_holds_the_sources_and_no_local_environments(tmp_path):
    built = subprocess.run(
        [_maturin(), "sdist", "--out", tmp_path],
        cwd=ROOT,
        env=_build_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    (sdist,) = tmp_path.glob("fnn-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    print(f"\nsdist: {sdist.name}, {sdist.stat().st_size / 1024:.0f} KiB, {len(names)} files")
    assert {"pyproject.toml", "Cargo.toml", "Cargo.lock", "README.md", "rust/lib.rs"} <= names
    assert {"python/fnn/__init__.py", "python/fnn/_core.pyi", "python/fnn/stream.py"} <= names
    assert not [n for n in names if n.startswith(".venv") or n.endswith((".so", ".pyd"))]
    assert sdist.stat().st_size < 5 * 1024 * 1024
