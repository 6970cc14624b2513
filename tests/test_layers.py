"""The layers point one way: read from the code's own imports, every one of them.

The pipeline speaks its own events; only the edge (signaling, rooms, ``wire_events``) knows
the wire protocol. A module that breaks this (a stage building an ``ErrorMsg``, the media
code importing a session) fails here, not in a review. Imports inside functions and under
``TYPE_CHECKING`` count: a cycle hidden there is still a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src" / "lingolive"

#: Every module's layer, top first (docs/architecture.md draws it): a module imports its own
#: layer and those below, never one above. A name covers a module or a whole package;
#: every module of LingoLive is in exactly one layer.
LAYERS: list[tuple[str, ...]] = [
    ("__main__", "cli"),  # commands
    ("serve",),  # the server process: uvicorn
    ("supervisor",),  # --workers N: a dead worker comes back in its slot
    # what a command runs: the app (routes, lifespan), a file's translation, the model
    # inventory, and the file formats they read and write
    ("app", "file_translate", "inventory", "audio_files", "subtitles"),
    ("worker_metrics",),  # one /metrics scrape for every worker
    ("signaling",),  # one WebSocket: parse, admit, tell the client
    ("context",),  # the process-wide state, the room registries of both kinds with it
    ("rooms",),  # rooms, direct and Janus-backed: routing, audience, membership
    ("wire_events",),  # the pipeline's events as wire messages
    ("protocol",),  # the wire contract (a leaf)
    ("rtc",),  # one participant's media
    ("metrics",),  # what the pipeline's events add up to
    ("pipeline",),
    ("engines",),
    ("sfu",),  # the Janus client: nothing of LingoLive's rooms, media, pipeline or wire
    ("lingolive", "config", "languages", "logs", "hosts"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every lingolive module → the lingolive modules it imports (anywhere in the file)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:  # relative: resolve against this module's package
                    package = name.rsplit(".", node.level)[0]
                    base = f"{package}.{node.module}"
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def layer_of(module: str) -> int:
    """The index in ``LAYERS`` of ``module`` (0: the top)."""
    name = "lingolive" if module == "lingolive" else module.removeprefix("lingolive.")
    found = [
        index
        for index, layer in enumerate(LAYERS)
        for unit in layer
        if name == unit or name.startswith(f"{unit}.")
    ]
    assert len(found) == 1, f"{module} is in {len(found)} layers, not one: add it to LAYERS"
    return found[0]


def test_every_module_has_its_layer() -> None:
    for module in imports():
        layer_of(module)


def test_imports_point_down_the_layers() -> None:
    upward = {
        module: sorted(d for d in deps if layer_of(d) < layer_of(module))
        for module, deps in imports().items()
    }
    assert {m: d for m, d in upward.items() if d} == {}


def test_stages_and_media_never_speak_the_wire() -> None:
    graph = imports()
    lower = ("lingolive.pipeline", "lingolive.engines", "lingolive.rtc")
    edge = ("lingolive.signaling", "lingolive.protocol", "lingolive.wire_events", "lingolive.rooms")
    offenders = {
        module: sorted(m for m in deps if m.startswith(edge))
        for module, deps in graph.items()
        if module.startswith(lower)
    }
    assert {m: d for m, d in offenders.items() if d} == {}


def test_signaling_never_speaks_janus() -> None:
    """The SFU rooms registry turns Janus's failures into its own errors (``SfuUnavailable``),
    so the signaling edge never sees Janus's API."""
    graph = imports()
    speaking = sorted(
        module
        for module, deps in graph.items()
        if module.startswith("lingolive.signaling") and "lingolive.sfu.janus_api" in deps
    )
    assert speaking == []


def test_the_protocol_is_a_leaf() -> None:
    assert imports()["lingolive.protocol"] == set()


def entry_points() -> set[str]:
    """``python -m lingolive`` and the console scripts ``pyproject.toml`` installs."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return {"lingolive.__main__", *(target.split(":")[0] for target in scripts.values())}


def test_every_module_is_reached_from_an_entry_point() -> None:
    """The package is the product: every module of it is imported, directly or through
    others, from an entry point. A module that only tests or benchmarks import (a test
    client, scoring, a Janus for the tests) belongs in ``tests/support``, not here."""
    graph = imports()
    reached: set[str] = set()
    todo = sorted(entry_points())
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        todo.extend(graph[module])
        if "." in module:  # importing a module runs its package's __init__ first
            todo.append(module.rsplit(".", 1)[0])
    assert sorted(set(graph) - reached) == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, set())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    cycle = find_cycle(imports())
    assert cycle is None, " -> ".join(cycle)


def test_no_cycle_between_packages() -> None:
    """Between folders too: ``signaling`` may use ``rooms`` and ``rtc``, never the other way
    round, even through a third one."""

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, deps in imports().items():
        packages.setdefault(room(module), set()).update(
            room(d) for d in deps if room(d) != room(module)
        )
    cycle = find_cycle(packages)
    assert cycle is None, " -> ".join(cycle)


def test_the_app_context_does_not_load_the_media_stack() -> None:
    """Process-wide state (settings, engines, pools, rooms) without WebRTC or a session."""
    probe = (
        "import sys, lingolive.context; "
        "print(sorted(m for m in ('aiortc', 'av', 'fastapi', 'lingolive.rtc.call', "
        "'lingolive.signaling.session', 'lingolive.pipeline.speaker_pipeline') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
