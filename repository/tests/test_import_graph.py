"""The importers sit on top of the published record: no import cycle runs through them.

The graph is read from the source (every `import` statement, those inside functions too,
since a cycle closed by a late import is still a cycle a reader has to hold in mind). A
module importing its own package's `__init__` is not counted: Python runs it first anyway.
"""

import ast
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("repository", "submissions", "api", "config")


def project_modules():
    """{dotted name: (path, is a package)} for the project's code (not tests or migrations)."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if "tests" in parts or "migrations" in parts:
                continue
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules[".".join(parts)] = (path, is_package)
    return modules


def imported_names(module, is_package, node):
    """The dotted names an import statement may load (a name imported from a package may be
    one of its modules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


def import_graph():
    modules = project_modules()
    graph = {}
    for module, (path, is_package) in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in imported_names(module, is_package, node):
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                parts = name.split(".") if name else []
                # importing a.b.c runs a and a.b first
                targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()
        graph[module] = {t for t in targets if t != module and not module.startswith(t + ".")}
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for start in graph:
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
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


class ImportGraphTests(SimpleTestCase):
    def test_the_graph_reader_finds_a_cycle_when_there_is_one(self):
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        self.assertEqual(cycles(graph), [{"a", "b", "c"}])
        self.assertEqual(cycles({"a": {"b"}, "b": set()}), [])

    def test_the_graph_sees_the_importers_and_what_they_use(self):
        graph = import_graph()
        self.assertIn("repository.services", graph["repository.importers.sheet.run"])
        self.assertIn("repository.sheetformat", graph["repository.snapshots"])
        # Look-alikes are one module both the importer's report and the taxonomy desk use.
        self.assertIn("repository.lookalikes", graph["submissions.variants"])
        self.assertIn("repository.lookalikes", graph["repository.importers.sheet.identify"])

    def test_no_import_cycle_runs_through_the_importers_or_the_sheet_format(self):
        shared = ("repository.importers", "repository.sheetformat", "repository.snapshots")
        through = [
            sorted(component)
            for component in cycles(import_graph())
            if any(module == name or module.startswith(name + ".") for module in component for name in shared)
        ]
        self.assertEqual(through, [])

    def test_the_published_record_does_not_import_the_importers(self):
        graph = import_graph()
        users = sorted(
            module
            for module, targets in graph.items()
            if module.startswith("repository.")
            and not module.startswith(("repository.importers", "repository.management"))
            and any(target.startswith("repository.importers") for target in targets)
        )
        self.assertEqual(users, [])
