"""The layers import only downward, and no package imports itself in a circle (DESIGN.md section 2).

Read from the import graph that grimp builds from the source, with the imports inside functions,
so a lazy import cannot hide a dependency. A failure lists each offending import with its file,
line and statement.
"""

from __future__ import annotations

import importlib.util
from collections import deque
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import grimp
import pytest

from tests.conftest import REPO

LAYERS = ("pipelines", "flows", "inlet", "dashboard")
"""Lowest first: each may import the ones before it, never the ones after it."""


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    for name in LAYERS:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        assert origin is not None and Path(origin).resolve().is_relative_to(REPO), (
            f"{name} is imported from {origin}, not from this checkout; run with PYTHONPATH={REPO}"
        )
    return grimp.build_graph(*LAYERS, cache_dir=None)


def _modules(graph: grimp.ImportGraph, package: str) -> list[str]:
    return sorted({package} | graph.find_descendants(package))


def _path(module: str) -> str:
    base = REPO.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return str(path.relative_to(REPO))


def _hop(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    """``importer -> imported`` with where it happens: ``file:line: statement`` for each import."""
    details = graph.get_import_details(importer=importer, imported=imported)
    where = "; ".join(f"{_path(importer)}:{d['line_number']}: {d['line_contents']}" for d in details)
    return f"{importer} -> {imported}  ({where})"


def _imports_of(graph: grimp.ImportGraph, package: str, forbidden: Callable[[str], bool]) -> list[str]:
    """Every direct import, by a module of ``package``, of a module ``forbidden`` names."""
    return [
        _hop(graph, importer, imported)
        for importer in _modules(graph, package)
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if forbidden(imported)
    ]


def _top(module: str) -> str:
    return module.split(".")[0]


def _is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_a_layer_imports_nothing_of_the_layers_above_it(graph: grimp.ImportGraph, layer: str) -> None:
    above = LAYERS[LAYERS.index(layer) + 1 :]
    found = _imports_of(graph, layer, lambda module: _top(module) in above)
    assert not found, (
        f"{layer} imports from {', '.join(above)}, which sit above it; imports go only downward. "
        f"Move the shared code down into {layer} (or below), or have the caller pass the value in:\n"
        + "\n".join(found)
    )


def test_the_dashboard_uses_only_the_public_inlet_package(graph: grimp.ImportGraph) -> None:
    found = _imports_of(
        graph,
        "dashboard",
        lambda module: _top(module) == "flows" or (_top(module) == "inlet" and _is_private(module)),
    )
    assert not found, (
        "The dashboard imports flows or a private inlet module; it may use only what `import inlet` "
        "offers (or a public inlet module). Make the name public in inlet, or use the facade:\n"
        + "\n".join(found)
    )


def test_the_dashboard_reads_through_the_facade_only(graph: grimp.ImportGraph) -> None:
    found = _imports_of(graph, "dashboard", lambda module: _top(module) == "pipelines")
    assert not found, (
        "The dashboard imports the engine (pipelines) directly; it reads and submits through the "
        "`inlet` facade only. Use or add an inlet function for what it needs:\n" + "\n".join(found)
    )


def test_the_http_api_calls_only_the_public_inlet_package(graph: grimp.ImportGraph) -> None:
    found = _imports_of(
        graph,
        "inlet.api",
        lambda module: (
            _top(module) in ("pipelines", "flows") or (_top(module) == "inlet" and _is_private(module))
        ),
    )
    assert not found, (
        "The HTTP API (inlet.api) imports the engine, the flows or a private inlet module; it calls "
        "only what `import inlet` and the public inlet modules offer, like any other app. Add a "
        "public function to the facade for what it needs:\n" + "\n".join(found)
    )


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """The shortest import cycle through each module of ``package`` that is on one, each once."""
    modules = set(_modules(graph, package))

    def inside(module: str) -> list[str]:
        return sorted(m for m in graph.find_modules_directly_imported_by(module) if m in modules)

    cycles: dict[tuple[str, ...], list[str]] = {}
    for start in sorted(modules):
        came_from: dict[str, str] = {}
        queue = deque([start])
        while queue and start not in came_from:
            module = queue.popleft()
            for imported in inside(module):
                if imported not in came_from:
                    came_from[imported] = module
                    queue.append(imported)
        if start in came_from:
            cycle = [start]
            while (previous := came_from[cycle[-1]]) != start:
                cycle.append(previous)
            cycle.reverse()
            first = cycle.index(min(cycle))
            key = tuple(cycle[first:] + cycle[:first])
            cycles.setdefault(key, [*key, key[0]])
    return list(cycles.values())


@pytest.mark.parametrize("package", ["pipelines", "flows", "inlet", "dashboard"])
def test_no_import_cycle_within_a_package(graph: grimp.ImportGraph, package: str) -> None:
    cycles = _cycles(graph, package)
    described = [
        " -> ".join(cycle) + "\n" + "\n".join(f"    {_hop(graph, a, b)}" for a, b in pairwise(cycle))
        for cycle in cycles
    ]
    assert not cycles, (
        f"Modules of {package} import each other in a circle (imports inside functions count too). "
        "Move what both need into a third module, or let one side own it:\n" + "\n".join(described)
    )
