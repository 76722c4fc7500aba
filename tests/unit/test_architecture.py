"""The tree keeps the shape of the architecture: layers, docstrings, size budgets, help."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from arq_batch.cli.main import build_parser

SRC = Path(__file__).resolve().parents[2] / "src" / "arq_batch"

# Layers, lowest first: kernel -> formats -> engine -> monitoring -> models | reports ->
# stores | aws -> wiring -> worker | feeders | training | serving | query | spark -> console
# -> cli.
# Each package may import itself and the packages listed; siblings never import each other.
_BASE = {"kernel", "formats", "engine", "monitoring", "models"}
_ADAPTERS = _BASE | {"reports", "stores", "aws", "wiring"}
ALLOWED = {
    "kernel": {"kernel"},
    "formats": {"kernel", "formats"},
    "engine": {"kernel", "formats", "engine"},
    "monitoring": {"kernel", "formats", "engine", "monitoring"},
    "models": _BASE,
    "reports": {"kernel", "reports"},
    "stores": {"kernel", "stores"},
    "aws": {"kernel", "aws"},
    "wiring": {"kernel", "models", "stores", "aws", "wiring"},
    "worker": _ADAPTERS | {"worker"},
    "feeders": _ADAPTERS | {"feeders"},
    "training": _ADAPTERS | {"training"},
    "serving": _ADAPTERS | {"serving"},
    "query": _ADAPTERS | {"query"},
    "console": _ADAPTERS | {"query", "feeders", "console"},  # above query: it shows it
    "cli": _ADAPTERS | {"worker", "feeders", "training", "serving", "query", "console", "cli"},
    "spark": _ADAPTERS | {"spark"},  # an integration: nothing imports it
}
# Libraries that belong to some parts only (the kernel and the engine own none of them).
OWNED = {
    "boto3": {"aws"}, "botocore": {"aws"},
    "starlette": {"serving", "console"}, "uvicorn": {"serving", "console"},
    "jinja2": {"reports", "console"}, "markupsafe": {"reports"},
    "sklearn": {"training"}, "pandas": {"training"}, "joblib": {"training"},
    "matplotlib": {"reports", "training", "query"},
    "duckdb": {"query"}, "pyspark": {"spark"},
}
MAX_MODULE_LINES = 250
MAX_FUNCTION_LINES = 40


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute module name a file imports, lazy imports inside functions included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports would hide the layer; we never use them
                found.append((node.lineno, "." * node.level + (node.module or "")))
            elif node.module == "arq_batch":  # `from arq_batch import x` names modules
                found += [(node.lineno, f"arq_batch.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module or ""))
    return found


def layer_violations(root: Path) -> list[str]:
    """One line per import that goes against the layers; ``root`` is the package folder."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if parts[0] in ("__init__.py", "__main__.py"):  # the package's face stands above cli
            continue
        layer = parts[0].removesuffix(".py")  # a top-level module (wiring) is a layer too
        for line, module in imported_modules(ast.parse(path.read_text())):
            where = f"{path.relative_to(root)}:{line} imports {module}"
            if module.startswith("."):
                problems.append(f"{where}: use an absolute import")
                continue
            top, _, rest = module.partition(".")
            if top == "arq_batch":
                target = rest.partition(".")[0]
                if target in ALLOWED and target not in ALLOWED.get(layer, set()):
                    problems.append(f"{where}: {layer} may not import {target}")
            elif top in OWNED and layer not in OWNED[top] and layer != "cli":
                problems.append(f"{where}: {top} belongs to {', '.join(sorted(OWNED[top]))}")
    return problems


def test_every_import_follows_the_layers() -> None:
    assert layer_violations(SRC) == []


@pytest.mark.parametrize(("layer", "source", "complaint"), [
    ("kernel", "from arq_batch.worker.loop import Worker\n", "kernel may not import worker"),
    ("engine", "from arq_batch.models import registry\n", "engine may not import models"),
    ("aws", "def f():\n    from arq_batch.serving import app\n", "aws may not import serving"),
    ("worker", "from arq_batch import cli\n", "worker may not import cli"),
    ("serving", "import arq_batch.training.pipeline\n", "serving may not import training"),
    ("engine", "import boto3\n", "boto3 belongs to aws"),
    ("kernel", "import matplotlib.pyplot\n", "matplotlib belongs to"),
    ("engine", "import joblib\n", "joblib belongs to training"),
    ("worker", "from arq_batch.feeders import watch\n", "worker may not import feeders"),
    ("worker", "from . import loop\n", "use an absolute import"),
])
def test_the_layering_check_catches_a_wrong_import(tmp_path: Path, layer: str, source: str,
                                                    complaint: str) -> None:
    # Given a package tree with one import against the layers
    (tmp_path / layer).mkdir()
    (tmp_path / layer / "bad.py").write_text(source)
    # When it is checked, Then that import is named
    problems = layer_violations(tmp_path)
    assert len(problems) == 1 and complaint in problems[0], problems


def test_every_subpackage_says_what_it_is_for_and_what_it_may_import() -> None:
    packages = [p for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert {p.name for p in packages} >= set(ALLOWED) - {"wiring"}
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        assert "May import" in doc, f"{package.name}/__init__.py lacks its layering docstring"


def test_no_package_holds_more_than_a_quarter_of_the_source() -> None:
    lines = {path: len(path.read_text().splitlines()) for path in SRC.rglob("*.py")}
    total = sum(lines.values())
    by_package: dict[str, int] = {}
    for path, count in lines.items():
        top = path.relative_to(SRC).parts[0]
        by_package[top] = by_package.get(top, 0) + count
    assert {p: n for p, n in by_package.items() if n > total / 4} == {}


def test_modules_and_functions_stay_within_their_budgets() -> None:
    too_long = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(SRC)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(SRC)}: {node.name}() {length} lines")
    assert too_long == []


def _parsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _parsers(sub)
    return found


def test_every_command_and_option_has_user_facing_help() -> None:
    missing = []
    for prog, parser in _parsers(build_parser()):
        if not parser.description:
            missing.append(f"{prog}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{prog} {c.dest}: no summary" for c in action._choices_actions
                            if not c.help]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{prog} {action.dest}: no help")
    assert missing == []


def test_the_command_line_loads_no_optional_library_until_a_command_needs_it() -> None:
    # The worker image has neither training, the emulator nor DuckDB installed: building
    # the parser (what every command does first) must not import them.
    probe = ("import sys; from arq_batch.cli.main import build_parser; build_parser(); "
             "print(' '.join(m for m in ('pandas', 'sklearn', 'moto', 'duckdb', 'starlette', "
             "'uvicorn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == ""
