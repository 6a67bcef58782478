"""The package's shape, held by tests (docs/architecture.md).

- Only the engine registry imports the NumPy reference engine: the estimators
  reach it through `fnn.get_engine`, and it stays a leaf a learner can read.
- Both engines implement exactly the `Engine` protocol, signatures included.
- docs/architecture.md, the module map, has one line for every file under
  rust/ and python/fnn/, and none for a file that is gone.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
import re

from fnn._engine import Engine
from fnn._rust_engine import RustEngine
from fnn.reference import NumpyEngine

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "fnn"
MODULE_MAP = ROOT / "docs" / "architecture.md"

#: The modules allowed to import `fnn.reference`.
REFERENCE_IMPORTERS = {"fnn._engine"}


def module_name(path: pathlib.Path) -> str:
    """The dotted name of a module file under python/."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module that ``source`` (the code of ``module``) imports, as absolute names.

    ``from a import b`` counts as importing both ``a`` and ``a.b`` (``b`` may
    be a submodule); imports inside functions count too.
    """
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            origin = ".".join((base if node.level else []) + ([node.module] if node.module else []))
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def package_imports() -> dict[str, set[str]]:
    return {
        module_name(path): imported_modules(
            path.read_text(), module_name(path), is_package=path.name == "__init__.py"
        )
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_the_import_check_sees_every_way_of_importing_a_module():
    ways = [
        "from .reference import NumpyEngine",
        "from . import reference",
        "from fnn import reference",
        "import fnn.reference as R",
        "from fnn.reference import forward",
        "def f():\n    from .reference import NumpyEngine",
    ]
    for way in ways:
        assert "fnn.reference" in imported_modules(way, "fnn._base"), way
    assert "fnn.reference" in imported_modules("from ..reference import x", "fnn.lab.cli")
    assert "fnn.reference" not in imported_modules("from ._rng import key", "fnn._base")


def test_only_the_engine_registry_imports_the_reference_engine():
    importers = {m for m, imports in package_imports().items() if "fnn.reference" in imports}
    assert importers == REFERENCE_IMPORTERS


def test_the_reference_engine_imports_only_the_shared_low_level_modules():
    # It may build on the data and math every part of fnn shares, never on
    # the estimators or the Rust engine.
    allowed = {
        "fnn._config",
        "fnn._errors",
        "fnn._full_batch",
        "fnn._layout",
        "fnn._losses",
        "fnn._rng",
    }
    imports = {m for m in package_imports()["fnn.reference"] if m.startswith("fnn")}
    outside = {m for m in imports if not any(m == a or m.startswith(f"{a}.") for a in allowed)}
    assert not outside


def test_both_engines_implement_exactly_the_engine_protocol():
    protocol = {
        name: inspect.signature(method)
        for name, method in vars(Engine).items()
        if callable(method) and not name.startswith("_")
    }
    assert set(protocol) == {"init_params", "fit_epochs", "predict", "logits", "loss_and_gradients"}
    for engine in (RustEngine, NumpyEngine):
        public = {name for name in vars(engine) if not name.startswith("_")} - {"name"}
        assert public == set(protocol), engine
        for name, signature in protocol.items():
            got = inspect.signature(getattr(engine, name))
            assert list(got.parameters) == list(signature.parameters), (engine, name)
            defaults = [p.default for p in got.parameters.values()]
            assert defaults == [p.default for p in signature.parameters.values()], (engine, name)


def module_files() -> list[str]:
    """Every module file under rust/ and python/fnn/, relative to the repository."""
    files = [*(ROOT / "rust").rglob("*.rs"), *PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.pyi")]
    return sorted(str(path.relative_to(ROOT)) for path in files)


def mapped_files() -> list[str]:
    """The files the module map has a line for: lines that start with ``- `path`:``."""
    return re.findall(r"^- `([^`]+)`:", MODULE_MAP.read_text(), flags=re.MULTILINE)


def test_the_module_map_has_a_line_for_every_module():
    missing = sorted(set(module_files()) - set(mapped_files()))
    assert not missing, (
        f"docs/architecture.md has no line for {missing}: add one line per new file "
        "(- `path`: what it is) under its section."
    )


def test_the_module_map_names_only_files_that_exist_and_each_once():
    mapped = mapped_files()
    gone = [path for path in mapped if not (ROOT / path).is_file()]
    assert not gone, f"docs/architecture.md lists files that are gone: {gone}"
    assert len(mapped) == len(set(mapped)), "a file has two lines in docs/architecture.md"
