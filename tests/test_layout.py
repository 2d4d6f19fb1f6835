"""The layers of docs/design.md hold: every import of our own modules points down, and nothing is loaded by name."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from bot.core.config import PROJECT_ROOT
from bot.surfaces.base import bundled_text

# bottom to top; a module may import its own layer and the ones before it
LAYERS = [
    ("core", ("bot.core",)),
    ("infra", ("bot.infra",)),
    ("knowledge", ("bot.knowledge",)),
    ("inquiries", ("bot.inquiries",)),
    ("reminders", ("bot.reminders",)),
    ("handlers", ("handlers",)),
    ("surfaces", ("bot.surfaces",)),
    ("wiring", ("bot.services", "bot.metrics", "bot.http")),
    ("cli", ("bot.cli",)),
]


def _layer(module: str) -> int | None:
    for n, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return n
    return None


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in ("bot", "handlers"):
        for path in sorted((PROJECT_ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if len(parts) > 1:  # the bare `bot` package holds nothing
                found[".".join(parts)] = path
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            out.append((node.lineno, "<by name>"))
    return out


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    own = _layer(module)
    assert own is not None, f"{module} belongs to no layer of docs/design.md"
    wrong = []
    for line, name in _imports(MODULES[module]):
        if name == "<by name>":
            wrong.append(f"line {line}: a module loaded by name")
            continue
        target = _layer(name)
        if target is not None and target > own:
            wrong.append(f"line {line}: {name} ({LAYERS[target][0]}) from {LAYERS[own][0]}")
    assert wrong == []


@pytest.mark.parametrize("module", ["handlers.answers", "handlers.inquiries", "handlers.triage",
                                    "handlers.threads", "handlers.reminders"])
def test_handler_modules_never_import_the_router(module):
    assert not [n for _, n in _imports(MODULES[module]) if n.startswith("handlers.router")]


def test_the_surfaces_templates_are_package_data_and_render():
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = data["tool"]["setuptools"]["package-data"]
    folders = sorted((PROJECT_ROOT / "bot" / "surfaces").rglob("templates"))
    assert folders
    for folder in folders:
        package = ".".join(folder.parent.relative_to(PROJECT_ROOT).parts)
        assert "templates/*.j2" in package_data.get(package, []), package
        for template in folder.glob("*.j2"):
            assert bundled_text(template.stem) is not None
    # the folder helpdesk agents edit keeps only the bot's own words
    assert not list((PROJECT_ROOT / "knowledge" / "templates").glob("slack_*.j2"))
    assert not list((PROJECT_ROOT / "knowledge" / "templates").glob("teams_*.j2"))


def test_tests_mirror_the_layout():
    """A test of one layer or surface lives in the folder named after it (tests/inquiries tests bot/inquiries,
    tests/surfaces/slack bot/surfaces/slack, tests/http bot/http.py); tests/ itself keeps what crosses them all."""
    tests = PROJECT_ROOT / "tests"
    folders = {p.parent for p in tests.rglob("test_*.py")} - {tests}
    assert folders
    for folder in folders:
        source = PROJECT_ROOT / "bot" / folder.relative_to(tests)
        assert source.is_dir() or source.with_suffix(".py").is_file(), f"{folder} mirrors nothing under bot/"


def test_no_test_module_imports_another():
    """What several test modules share is in tests/fakes (an importable test backend) or tests/conftest.py; a test
    module imported by another would run its tests twice over and tie the two together."""
    tests = PROJECT_ROOT / "tests"
    offenders = []
    for path in tests.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(tests)}: {n}" for n in names if n.split(".")[-1].startswith("test_")]
    assert not offenders, offenders
