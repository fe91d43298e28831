"""The tree's shape, as issue 13 accepts it and CONVENTIONS.md asks: nothing outside the kinds package
branches on a project kind, modules stay small, app's sub-packages import each other without cycles, and
app never imports workers. Each failure names every offender."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[1]

KIND_COMPARISON = re.compile(r"ProjectKind\.|kind (==|!=|===|!==|in |not in |is )|\{%[^%]*kind")
KIND_SEARCHED = ("app", "workers", "templates", "static")
KIND_ALLOWED = ("app/kinds", "app/models", "static/vendor")  # the registry, the tables, npm's copies

MAX_MODULE_LINES = 400
SIZED_PACKAGES = ("app", "workers", "mlcore")


def _files_under(*folders: str, pattern: str = "*") -> Iterator[Path]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _offenders(title: str, offenders: list[str]) -> str:
    return f"{len(offenders)} {title}:\n" + "\n".join(f"  {line}" for line in offenders)


def test_nothing_outside_the_kinds_package_compares_against_a_project_kind() -> None:
    offenders = []
    for path in _files_under(*KIND_SEARCHED):
        name = _relative(path)
        if any(name == allowed or name.startswith(f"{allowed}/") for allowed in KIND_ALLOWED):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images, fonts
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if KIND_COMPARISON.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, _offenders("comparisons against a kind outside app/kinds and app/models", offenders)


def test_no_module_is_over_four_hundred_lines() -> None:
    offenders = []
    for path in _files_under(*SIZED_PACKAGES, pattern="*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{_relative(path)}: {lines} lines")
    assert not offenders, _offenders(f"modules over {MAX_MODULE_LINES} lines", offenders)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Every import statement counts, function-local and TYPE_CHECKING ones included; no cache on disk.
    return grimp.build_graph("app", "workers", include_external_packages=False, cache_dir=None)


def _imports_between(graph: grimp.ImportGraph, importer: str, imported: str) -> list[str]:
    """Each import line from `importer` (or below) of `imported` (or below), as `module:line`."""
    found = []
    for module in sorted({importer} | graph.find_descendants(importer)):
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            if target == imported or target.startswith(f"{imported}."):
                for detail in graph.get_import_details(importer=module, imported=target):
                    found.append(f"{module}:{detail['line_number']} imports {target}")
    return found


def _strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of nodes that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in nodes:
        if node not in index:
            visit(node)
    return groups


def test_app_sub_packages_import_each_other_without_cycles(graph: grimp.ImportGraph) -> None:
    children = sorted(graph.find_children("app"))
    edges = {
        importer: {
            imported
            for imported in children
            if imported != importer
            and graph.direct_import_exists(importer=importer, imported=imported, as_packages=True)
        }
        for importer in children
    }
    offenders = []
    for group in _strongly_connected(children, edges):
        if len(group) < 2:
            continue
        offenders.append("cycle between " + ", ".join(group) + ":")
        for importer in group:
            for imported in sorted(edges[importer] & set(group)):
                offenders.extend(f"  {line}" for line in _imports_between(graph, importer, imported))
    assert not offenders, _offenders("lines about import cycles between app's sub-packages", offenders)


def test_app_never_imports_workers(graph: grimp.ImportGraph) -> None:
    offenders = _imports_between(graph, "app", "workers")
    assert not offenders, _offenders("imports of workers from app", offenders)


# A route streams a file: its body has no JSON schema to declare.
FILE_ROUTES = {
    ("get", "/api/v1/snapshots/{sid}/download"),
    ("get", "/api/v1/snapshots/{sid}/archive"),
    ("post", "/api/v1/projects/{pid}/tasks/export"),
}


def _open_schema(schema: dict | None) -> bool:
    """A schema that tells a client nothing about the fields: none, {} or a bare object/dict."""
    if not schema:
        return True
    if schema.get("type") == "array":
        return _open_schema(schema.get("items"))
    return schema.get("type") == "object" and "properties" not in schema


def test_every_json_api_route_declares_the_shape_of_its_answer() -> None:
    from app.main import create_app

    offenders = []
    for path, operations in create_app().openapi()["paths"].items():
        for method, operation in operations.items():
            if not path.startswith("/api/v1/") or (method, path) in FILE_ROUTES:
                continue
            for code, answer in operation.get("responses", {}).items():
                if code.startswith("2") and code != "204":
                    schema = answer.get("content", {}).get("application/json", {}).get("schema")
                    if _open_schema(schema):
                        offenders.append(f"{method.upper()} {path} {code}: {schema}")
    assert not offenders, _offenders("API answers without a schema (OpenAPI cannot show them)", offenders)


def test_web_modules_neither_query_nor_import_each_others_routers() -> None:
    """Routes load, check and call a service; what two web modules share lives outside the routers."""
    queries, imports = [], []
    for path in _files_under("app/web", pattern="*.py"):
        text = path.read_text(encoding="utf-8")
        name = _relative(path)
        queries += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if "select(" in line]
        imports += [
            f"{name}:{n}: {line.strip()}"
            for n, line in enumerate(text.splitlines(), 1)
            if re.match(r"\s*from app\.web\.(api\.v1|pages)\.\w+ import", line)
            and not re.search(r"\.(pagination|deps|forms) import", line)
        ]
    assert not queries, _offenders("queries in web modules", queries)
    assert not imports, _offenders("web modules importing another router module", imports)


OWNERSHIP_COMPARISON = re.compile(r"(project_id|user_id|lease_user) != |!= (project|user)\.id\b")


def test_only_the_policies_compare_who_owns_what() -> None:
    """Whether a row belongs to the caller's project, or to the caller, is decided in app/auth/policies.py
    (in_project, get_in_project, own): a second copy of the rule elsewhere is how access leaks start."""
    offenders = [
        f"{_relative(path)}:{n}: {line.strip()}"
        for path in _files_under("app", "workers", pattern="*.py")
        if _relative(path) != "app/auth/policies.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OWNERSHIP_COMPARISON.search(line)
    ]
    assert not offenders, _offenders("ownership comparisons outside app/auth/policies.py", offenders)
