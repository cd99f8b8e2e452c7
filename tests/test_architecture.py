"""The architecture, checked from the source (docs/architecture.md): no import cycles, one facade, no dead links.

import-linter (tests/test_import_contract.py) checks the layers and that the GUI and the CLI import only
core.engine; it skips imports inside functions only where told to, so the walk here reads every import
statement, at any depth, with the standard library's ast."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "fghash_gui")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every project module `name` imports, at any depth of the file (functions included)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from package import module` imports the module; `from module import name` the module.
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` names the deepest project module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules_or_packages() -> None:
    graph = _graph()
    assert _cycles(graph) == []
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if not module.startswith("core."):
            continue
        source = ".".join(module.split(".")[:2])
        packages.setdefault(source, set()).update(
            ".".join(t.split(".")[:2]) for t in targets if t.startswith("core.") and not t.startswith(source + "."))
    for source in packages:
        packages[source].discard(source)
    assert _cycles(packages) == []


def test_gui_and_cli_import_only_the_facade() -> None:
    graph = _graph()
    for module, targets in graph.items():
        if module.startswith("fghash_gui") or module.startswith("core.cli"):
            reached = {t for t in targets if t.startswith("core.") and not t.startswith("core.cli")}
            assert reached <= {"core.engine"}, (module, reached - {"core.engine"})


def test_the_facade_exports_every_name_it_lists_and_nothing_is_silenced() -> None:
    engine = importlib.import_module("core.engine")
    assert engine.__all__ and len(engine.__all__) == len(set(engine.__all__))
    missing = [name for name in engine.__all__ if not hasattr(engine, name)]
    assert missing == []
    assert "noqa" not in (ROOT / "core" / "engine.py").read_text(encoding="utf-8")


# Files named in docstrings and comments: any document ("README.md", "docs/methods.md"), and any path
# into this repository's own folders ("core/runs/catalog.py", "bench/gpu_check.sh"). Paths inside other projects'
# repositories (the spec's sources) are not checked.
_FILE_REFERENCE = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.(?:md|py|sh|toml))\b")
_OWN_FOLDERS = ("core/", "fghash_gui/", "bench/", "docs/", "tests/", "resources/", ".ci/")


def test_every_file_a_docstring_or_comment_names_exists() -> None:
    missing = []
    for package in (*PACKAGES, "bench", "tests"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for reference in _FILE_REFERENCE.findall(line):
                    document = reference.endswith(".md") and ("/" in reference or reference[:-3].isupper())
                    if not (document or reference.startswith(_OWN_FOLDERS)):
                        continue
                    candidates = [ROOT / reference, path.parent / reference, ROOT / "docs" / reference]
                    if not any(c.exists() for c in candidates):
                        missing.append(f"{path.relative_to(ROOT)}:{line_number}: {reference}")
    assert missing == []
