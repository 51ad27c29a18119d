"""The alerts flow runs one way: evaluators find, `record` stores and queues, the outbox sends.

A change that makes the outbox assess spikes again, or an evaluator queue its own messages, brings
back the knot where no module could be read without the other two; this walks the imports (those
inside functions too) and says which edge did it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ALERTS = Path(__file__).resolve().parent.parent / "monitor" / "alerts"


def _imports() -> dict[str, set[str]]:
    """{module: alerts modules it imports}, by file name (rules, match, ...)."""
    names = {p.stem for p in ALERTS.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in names:
        tree = ast.parse((ALERTS / f"{name}.py").read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("monitor.alerts."):
                    found.add(node.module.split(".")[2])
                elif node.module == "monitor.alerts":
                    found.update(a.name for a in node.names if a.name in names)
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("monitor.alerts."))
        graph[name] = found - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt] if nxt in path else path + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_no_import_cycle_among_the_alerts_modules():
    assert _cycle(_imports()) is None, " → ".join(_cycle(_imports()) or [])


def test_the_outbox_only_sends_and_the_evaluators_only_find():
    graph = _imports()
    # the outbox knows how to send (targets), not what matched or when spikes are assessed
    assert graph["outbox"] <= {"targets"}, graph["outbox"]
    # evaluators hand on `Match` records; storing and queueing them is `record`'s alone
    for evaluator in ("match", "spikes"):
        assert not graph[evaluator] & {"record", "outbox", "flow", "messages"}, (evaluator, graph[evaluator])
    # and only the flow puts the steps in order
    assert {"match", "spikes", "record", "outbox"} <= graph["flow"]
