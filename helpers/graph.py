"""A state machine's graph as SVG, drawn offline (no CDN, no JavaScript): it shows in JupyterLab,
Notebook 7, VS Code and exported HTML alike. The SDK's render_graph() loads its script from a CDN
and shows nothing offline.

Nodes are the states, plus Start and End; a Parallel or Map state is a dashed group that holds
its branches (side by side) or its iterator, drawn the same way. Edges: Next and Choice rules (solid, a Choice's labelled with its
condition), Catch (dashed, labelled with the errors it catches). A state with a Retry says so.
The layout is grandalf's Sugiyama layout. Given an execution's event history, each state is
coloured by what happened to it: not started, running, succeeded, failed, caught (it failed and a
Catch took over), and a retried state says how often.
"""
from __future__ import annotations

import html
import json

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from .executions import events

CHAR_WIDTH, NODE_HEIGHT, PADDING = 7.2, 34, 40
GROUP_HEADER, GROUP_GAP = 26, 12
FILL = {"Task": "#e8f1fb", "Choice": "#fdf3dc", "Fail": "#fbe3e3", "Succeed": "#e3f5e6",
        "Parallel": "#efe8fb", "Map": "#efe8fb", "Wait": "#f1f1f1", "Pass": "#f1f1f1",
        "terminal": "#ffffff"}


class _View:
    def __init__(self, w, h):
        self.w, self.h, self.xy = w, h, (0, 0)


def _rule_label(rule: dict) -> str:
    """A Choice rule, short: `= InService`, `NumericGreaterThan 1`, `And`..."""
    for key, value in rule.items():
        if key == "StringEquals":
            return f"= {value}"
        if key not in ("Next", "Variable"):
            return f"{key} {value}" if not isinstance(value, (list, dict)) else key
    return "rule"


def edges_of(definition: dict) -> list[tuple[str, str, str, str]]:
    """(from, to, kind, label) for every transition: next, choice, default, catch, start, end."""
    edges = [("Start", definition["StartAt"], "next", "")]
    for name, state in definition["States"].items():
        if state.get("Next"):
            edges.append((name, state["Next"], "next", ""))
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            edges.append((name, "End", "next", ""))
        for rule in state.get("Choices", []):
            edges.append((name, rule["Next"], "choice", _rule_label(rule)))
        if state.get("Default"):
            edges.append((name, state["Default"], "choice", "default"))
        for catcher in state.get("Catch", []):
            edges.append((name, catcher["Next"], "catch", ", ".join(catcher["ErrorEquals"])))
    return edges


def branches_of(state: dict) -> list[dict]:
    """The sub-machines a Parallel (its branches) or Map (its iterator) state runs."""
    if state["Type"] == "Parallel":
        return state["Branches"]
    if state["Type"] == "Map":
        return [state.get("ItemProcessor") or state["Iterator"]]
    return []


def all_states(definition: dict) -> dict[str, dict]:
    """Every state, nested ones included, by name."""
    found = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in branches_of(state):
            found.update(all_states(branch))
    return found


def _label(name: str, state: dict | None) -> str:
    if state is None:
        return name
    extra = ""
    if state["Type"] == "Parallel":
        extra = f" (Parallel, {len(state['Branches'])} branches)"
    elif state["Type"] == "Map":
        extra = " (Map: for each item)"
    if state.get("Retry"):
        extra += " ↻ retry"
    return f"{name}{extra}"


class StateMachineGraph:
    def __init__(self, definition: dict, history: list[dict] | None = None,
                 nested: bool = False, statuses: dict | None = None):
        self.definition = definition
        self.nested = nested  # a branch inside a group: no Start and End of its own
        self.edges = [edge for edge in edges_of(definition)
                      if not nested or "Start" not in edge[:2] and "End" not in edge[:2]]
        if statuses is None and history is not None:
            statuses = state_statuses(history)  # once, for the groups' branches too
        self.statuses = statuses
        self.groups = {name: [StateMachineGraph(branch, nested=True, statuses=statuses)
                              for branch in branches_of(state)]
                       for name, state in definition["States"].items() if branches_of(state)}
        self.width = self.height = 0
        self.svg = self._draw()

    def _status(self, name: str) -> dict | None:
        if self.statuses is None or name not in self.definition["States"]:
            return None
        return self.statuses.get(name, {"status": "not started", "retries": 0})

    def _text(self, name: str) -> str:
        label = _label(name, self.definition["States"].get(name))
        status = self._status(name)
        if status and status["retries"]:
            label += f" ×{status['retries']}"
        return label

    def _repr_svg_(self):
        return self.svg

    def __repr__(self):
        if self.statuses is not None:
            return "\n".join(f"{name}: {self._status(name)['status']}"
                             + (f" (retried {self._status(name)['retries']}x)"
                                if self._status(name)["retries"] else "")
                             for name in self.definition["States"])
        return "\n".join(f"{a} --{kind}{f' [{label}]' if label else ''}--> {b}"
                         for a, b, kind, label in self.edges)

    def _draw(self) -> str:
        states = self.definition["States"]
        names = list(states) if self.nested else ["Start", *states, "End"]
        vertices = {}
        for name in names:
            vertex = Vertex(name)
            vertex.view = _View(len(self._text(name)) * CHAR_WIDTH + 24, NODE_HEIGHT)
            if name in self.groups:
                inner = self.groups[name]
                vertex.view.w = max(vertex.view.w, sum(g.width for g in inner)
                                    + GROUP_GAP * (len(inner) + 1))
                vertex.view.h = max(g.height for g in inner) + GROUP_HEADER + GROUP_GAP
            vertices[name] = vertex
        graph_edges = []
        for a, b, kind, label in self.edges:
            edge = Edge(vertices[a], vertices[b])
            edge.kind, edge.label = kind, label
            graph_edges.append(edge)
        graph = Graph(list(vertices.values()), graph_edges)
        for component in graph.C:
            layout = SugiyamaLayout(component)
            layout.init_all()
            layout.draw()
        padding = GROUP_GAP if self.nested else PADDING
        left = min(v.view.xy[0] - v.view.w / 2 for v in vertices.values()) - padding
        top = min(v.view.xy[1] - v.view.h / 2 for v in vertices.values()) - padding
        width = max(v.view.xy[0] + v.view.w / 2 for v in vertices.values()) - left + padding
        height = max(v.view.xy[1] + v.view.h / 2 for v in vertices.values()) - top + padding
        self.width, self.height = width, height
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="state-machine" '
                 f'width="{width:.0f}" height="{height:.0f}" '
                 f'viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" '
                 'font-family="sans-serif" font-size="12">',
                 '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
                 'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                 '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
        for edge in graph_edges:
            a, b = edge.v[0].view, edge.v[1].view
            points = [(a.xy[0], a.xy[1] + a.h / 2), (b.xy[0], b.xy[1] - b.h / 2)]
            style = ('stroke="#c0392b" stroke-dasharray="5,4"' if edge.kind == "catch"
                     else 'stroke="#555"')
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline class="edge {edge.kind}" data-from="'
                         f'{html.escape(edge.v[0].data)}" data-to="{html.escape(edge.v[1].data)}"'
                         f' points="{path}" fill="none" {style} marker-end="url(#arrow)"/>')
            if edge.label:
                mx, my = (points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2
                parts.append(f'<text x="{mx + 4:.1f}" y="{my:.1f}" font-size="10" '
                             f'fill="#666">{html.escape(edge.label[:40])}</text>')
        for name, vertex in vertices.items():
            state = states.get(name)
            kind = state["Type"] if state else "terminal"
            x, y = vertex.view.xy
            w, h = vertex.view.w, vertex.view.h
            rx = NODE_HEIGHT / 2 if kind == "terminal" else 6
            status = self._status(name)
            fill = STATUS_FILL[status["status"]] if status else FILL.get(kind, "#f1f1f1")
            status_attribute = f' data-status="{status["status"]}"' if status else ""
            dashed = ' stroke-dasharray="6,3"' if name in self.groups else ""
            text_y = y - h / 2 + 18 if name in self.groups else y + 4
            parts.append(f'<g class="node" data-state="{html.escape(name)}" data-type="{kind}"'
                         f'{status_attribute}>'
                         f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" '
                         f'width="{w:.1f}" height="{h:.1f}" rx="{rx}" '
                         f'fill="{fill}" stroke="#777"{dashed}/>'
                         f'<text x="{x:.1f}" y="{text_y:.1f}" text-anchor="middle">'
                         f'{html.escape(self._text(name))}</text></g>')
            inner_x = x - w / 2 + GROUP_GAP
            for inner in self.groups.get(name, []):
                # A branch is drawn as an SVG of its own, placed inside the group's box.
                parts.append(inner.svg.replace(
                    "<svg ", f'<svg x="{inner_x:.1f}" y="{y - h / 2 + GROUP_HEADER:.1f}" ', 1))
                inner_x += inner.width + GROUP_GAP
        parts.append("</svg>")
        return "".join(parts)


def draw(definition: dict, history: list[dict] | None = None) -> StateMachineGraph:
    """The definition's graph (SVG in a notebook, text in a terminal); with an execution's event
    history (`helpers.executions.events`), coloured by what happened to each state."""
    return StateMachineGraph(definition, history)


def draw_execution(aws, execution_arn: str) -> StateMachineGraph:
    """An execution's state machine, coloured by its history (works on both backends)."""
    sfn = aws.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=execution_arn)
    definition = json.loads(sfn.describe_state_machine(
        stateMachineArn=execution["stateMachineArn"])["definition"])
    return StateMachineGraph(definition, events(aws, execution_arn))


STATUS_FILL = {"not started": "#ffffff", "running": "#cfe2ff", "succeeded": "#c9ecd0",
               "failed": "#f5c2c2", "caught": "#ffe0b3"}


def state_statuses(history: list[dict]) -> dict[str, dict]:
    """Each state's status in an execution, from its event history: running, succeeded, failed,
    caught (it failed, and a Catch took the execution on) and how often it was retried."""
    statuses: dict[str, dict] = {}
    current, failed_last = None, {}
    for event in history:
        kind = event["type"]
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered:
            current = entered["name"]
            statuses.setdefault(current, {"status": "running", "retries": 0})
            statuses[current]["status"] = "running"
            failed_last[current] = False
            if kind == "FailStateEntered":
                statuses[current]["status"] = "failed"
        elif exited:
            name = exited["name"]
            statuses[name]["status"] = "caught" if failed_last.get(name) else "succeeded"
        elif current and kind.endswith("Failed") and kind != "ExecutionFailed":
            statuses[current]["status"], failed_last[current] = "failed", True
        elif current and kind == "TaskScheduled" and failed_last.get(current):
            statuses[current]["retries"] += 1
            statuses[current]["status"], failed_last[current] = "running", False
    return statuses
