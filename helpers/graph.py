"""A state machine's graph as SVG, drawn offline (no CDN, no JavaScript): it shows in JupyterLab,
Notebook 7, VS Code and exported HTML alike. The SDK's render_graph() loads its script from a CDN
and shows nothing offline.

Nodes are the states, plus Start and End; a Parallel or Map state is a dashed group that holds
its branches (side by side) or its iterator, drawn the same way. Edges: Next and Choice rules
(solid, a Choice's labelled with its condition), Catch (dashed, labelled with the errors it
catches). A handler that several states Catch to (typically "notify, then fail") is not reached
by a fan of dashed lines: each of those states says so on a line of its own ("⚠ States.ALL →
Notify Failure") and the handler says how many states it catches for. A state with a Retry says
so. Given an execution's event history, each state is coloured by what happened to it: not
started, running, succeeded, failed, caught (it failed and a Catch took over), and a retried
state says how often.

The layout is grandalf's Sugiyama layout (the layered layout Graphviz's dot uses): states in
layers, and an edge that spans several layers gets a slot of its own in each layer it passes.
Edges are drawn through those slots and leave and enter their states at ports spread along the
states' bottom and top sides, so that no edge crosses a state it does not connect. An edge that
goes back up (a Wait/Choice loop) leaves from the top of its state and enters the bottom of its
target.
"""
from __future__ import annotations

import html
import json
from collections import defaultdict

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import DummyVertex, SugiyamaLayout

from .executions import events

CHAR_WIDTH, NODE_HEIGHT, PADDING = 7.2, 34, 40
NOTE_CHAR_WIDTH, NOTE_HEIGHT = 6.0, 14  # a node's small second line: where its Catch goes
GROUP_HEADER, GROUP_GAP = 26, 12
NODE_GAP, LAYER_GAP = 28, 40  # between the states of a layer; between layers (edges, labels)
PASSING_EDGE_WIDTH = 10  # the slot that an edge spanning several layers takes in each of them
CATCH_COLOUR = "#c0392b"
FILL = {"Task": "#e8f1fb", "Choice": "#fdf3dc", "Fail": "#fbe3e3", "Succeed": "#e3f5e6",
        "Parallel": "#efe8fb", "Map": "#efe8fb", "Wait": "#f1f1f1", "Pass": "#f1f1f1",
        "terminal": "#ffffff"}


class _View:
    """What grandalf needs of a vertex: its size, and where the layout put its centre."""

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


def shared_catch_handlers(definition: dict) -> dict[str, list[str]]:
    """The states that Catch sends to from two states or more, each with those states."""
    catching = defaultdict(list)
    for name, state in definition["States"].items():
        for catcher in state.get("Catch", []):
            if name not in catching[catcher["Next"]]:
                catching[catcher["Next"]].append(name)
    return {handler: names for handler, names in catching.items() if len(names) > 1}


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
        self.shared_handlers = shared_catch_handlers(definition)
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

    def _catch_notes(self, name: str) -> list[tuple[str, str, str]]:
        """(note, handler, errors) for each Catch of this state to a shared handler."""
        state = self.definition["States"].get(name) or {}
        return [(f"⚠ {', '.join(catcher['ErrorEquals'])} → {catcher['Next']}",
                 catcher["Next"], ", ".join(catcher["ErrorEquals"]))
                for catcher in state.get("Catch", []) if catcher["Next"] in self.shared_handlers]

    def _notes(self, name: str) -> list[str]:
        notes = [note for note, *_ in self._catch_notes(name)]
        if name in self.shared_handlers:
            notes.append(f"⚠ Catch from {len(self.shared_handlers[name])} states")
        return notes

    def _drawn_edges(self) -> list[tuple[str, str, str, str]]:
        """The edges drawn as lines: all but the Catches to a shared handler (noted instead)."""
        return [edge for edge in self.edges
                if not (edge[2] == "catch" and edge[1] in self.shared_handlers)]

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

    def _summary(self) -> str:
        """A sentence that stands for the picture (its alt text)."""
        states = list(self.definition["States"])
        text = f"State machine graph with {len(states)} states: {', '.join(states)}."
        for handler, catching in self.shared_handlers.items():
            text += f" {len(catching)} states Catch errors to {handler}."
        if self.statuses is not None:
            counts = defaultdict(int)
            for name in all_states(self.definition):  # the groups' states too
                counts[self.statuses.get(name, {"status": "not started"})["status"]] += 1
            text += " Coloured by an execution: " + ", ".join(
                f"{count} {status}" for status, count in counts.items()) + "."
        return text

    def _size(self, name: str) -> tuple[float, float]:
        notes = self._notes(name)
        width = max([len(self._text(name)) * CHAR_WIDTH]
                    + [len(note) * NOTE_CHAR_WIDTH for note in notes]) + 24
        height = NODE_HEIGHT + NOTE_HEIGHT * len(notes)
        if name in self.groups:
            inner = self.groups[name]
            width = max(width, sum(g.width for g in inner) + GROUP_GAP * (len(inner) + 1))
            height = (max(g.height for g in inner) + GROUP_HEADER + GROUP_GAP
                      + NOTE_HEIGHT * len(notes))
        return width, height

    def _draw(self) -> str:
        states = self.definition["States"]
        names = list(states) if self.nested else ["Start", *states, "End"]
        boxes, routes, gaps = _layout({name: self._size(name) for name in names},
                                      self._drawn_edges(), self._anchors())
        padding = GROUP_GAP if self.nested else PADDING
        xs = [x for x, _ in (point for route in routes for point in route)]
        ys = [y for _, y in (point for route in routes for point in route)]
        left = min([x - w / 2 for x, _, w, _ in boxes.values()] + xs) - padding
        top = min([y - h / 2 for _, y, _, h in boxes.values()] + ys) - padding
        width = max([x + w / 2 for x, _, w, _ in boxes.values()] + xs) - left + padding
        height = max([y + h / 2 for _, y, _, h in boxes.values()] + ys) - top + padding
        self.width, self.height = width, height
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="state-machine" '
                 f'width="{width:.0f}" height="{height:.0f}" '
                 f'viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" '
                 'font-family="sans-serif" font-size="12"'
                 + ('>' if self.nested else ' role="img">'
                    f'<title>{html.escape(self._summary())}</title>'
                    f'<desc>{html.escape(repr(self))}</desc>'),
                 '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
                 'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                 '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
        labels = []
        for (a, b, kind, label), points, gap in zip(self._drawn_edges(), routes, gaps):
            style = (f'stroke="{CATCH_COLOUR}" stroke-dasharray="5,4"' if kind == "catch"
                     else 'stroke="#555"')
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline class="edge {kind}" data-from="{html.escape(a)}" '
                         f'data-to="{html.escape(b)}" points="{path}" fill="none" {style} '
                         'marker-end="url(#arrow)"/>')
            if label:
                label = label[:40]
                x, y = _label_place(label, gap, labels)
                parts.append(f'<text class="edge-label" x="{x:.1f}" y="{y + 3:.1f}" '
                             'text-anchor="middle" font-size="10" fill="#666" stroke="#fff" '
                             f'stroke-width="3" paint-order="stroke">{html.escape(label)}</text>')
        for name, (x, y, w, h) in boxes.items():
            parts.append(self._node(name, x, y, w, h))
        parts.append("</svg>")
        return "".join(parts)

    def _anchors(self) -> list[tuple[str, str]]:
        """Layout-only edges: a shared handler that nothing else leads to is placed below the
        states that Catch to it, as if the last of them led there."""
        led_to = {b for _, b, _, _ in self._drawn_edges()}
        return [(catching[-1], handler) for handler, catching in self.shared_handlers.items()
                if handler not in led_to]

    def _node(self, name: str, x: float, y: float, w: float, h: float) -> str:
        state = self.definition["States"].get(name)
        kind = state["Type"] if state else "terminal"
        rx = NODE_HEIGHT / 2 if kind == "terminal" else 6
        status = self._status(name)
        fill = STATUS_FILL[status["status"]] if status else FILL.get(kind, "#f1f1f1")
        status_attribute = f' data-status="{status["status"]}"' if status else ""
        dashed = ' stroke-dasharray="6,3"' if name in self.groups else ""
        notes = self._notes(name)
        text_y = (y - h / 2 + 18 if name in self.groups
                  else y + 4 - NOTE_HEIGHT * len(notes) / 2)
        parts = [f'<g class="node" data-state="{html.escape(name)}" data-type="{kind}"'
                 f'{status_attribute}>'
                 f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" '
                 f'width="{w:.1f}" height="{h:.1f}" rx="{rx}" '
                 f'fill="{fill}" stroke="#777"{dashed}/>'
                 f'<text x="{x:.1f}" y="{text_y:.1f}" text-anchor="middle">'
                 f'{html.escape(self._text(name))}</text>']
        catches = self._catch_notes(name)
        for number, note in enumerate(notes, start=1):
            attributes = ('class="catch-handler"' if number > len(catches) else
                          f'class="catch-marker" data-to="{html.escape(catches[number - 1][1])}"'
                          f' data-errors="{html.escape(catches[number - 1][2])}"')
            parts.append(f'<text {attributes} x="{x:.1f}" y="{text_y + NOTE_HEIGHT * number:.1f}"'
                         f' text-anchor="middle" font-size="10" fill="{CATCH_COLOUR}">'
                         f'{html.escape(note)}</text>')
        parts.append("</g>")
        header = GROUP_HEADER + NOTE_HEIGHT * len(notes)
        branches = self.groups.get(name, [])
        inner_x = x - (sum(b.width for b in branches) + GROUP_GAP * (len(branches) - 1)) / 2
        for branch in branches:
            # A branch is drawn as an SVG of its own, centred in the group's box.
            parts.append(branch.svg.replace(
                "<svg ", f'<svg x="{inner_x:.1f}" y="{y - h / 2 + header:.1f}" ', 1))
            inner_x += branch.width + GROUP_GAP
        return "".join(parts)


def _label_place(label: str, gap, taken: list) -> tuple[float, float]:
    """Where an edge's label goes: on the stretch of the edge between two layers (where no
    state is), halfway if that is free of the labels placed so far, else further along; beside
    the line when the stretch is vertical. `taken` collects the labels' boxes."""
    (x0, y0), (x1, y1) = gap
    width = len(label) * NOTE_CHAR_WIDTH
    beside = width / 2 + 4 if abs(x1 - x0) < 1 else 0
    for along in (0.5, 0.3, 0.7, 0.2, 0.8):
        x, y = x0 + (x1 - x0) * along + beside, y0 + (y1 - y0) * along
        box = (x - width / 2, y - 7, x + width / 2, y + 7)
        if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                   for b in taken):
            break
    taken.append(box)
    return x, y


def _layout(sizes: dict[str, tuple[float, float]], edges: list[tuple[str, str, str, str]],
            anchors: list[tuple[str, str]]):
    """Place the nodes (grandalf's Sugiyama layout) and route the edges. Returns the nodes'
    boxes {name: (centre x, centre y, width, height)}, and per edge its points and the stretch
    of it that runs between two layers (where its label can go)."""
    vertices = {}
    for name, (width, height) in sizes.items():
        vertices[name] = Vertex(name)
        vertices[name].view = _View(width, height)
    laid_out = {}
    for index, (a, b, _, _) in enumerate(edges):
        if a != b:  # a state that leads to itself gets a loop on its side (_routes)
            laid_out[index] = Edge(vertices[a], vertices[b])
    anchor_edges = [Edge(vertices[a], vertices[b]) for a, b in anchors]
    graph = Graph(list(vertices.values()), [*laid_out.values(), *anchor_edges])
    routes: dict[int, list[tuple[float, float]]] = {}
    gaps: dict[int, tuple] = {}
    right = 0.0
    for component in graph.C:
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = NODE_GAP, LAYER_GAP
        layout.init_all()
        for layer in layout.layers:
            for vertex in layer:
                if isinstance(vertex, DummyVertex):
                    vertex.view.w = PASSING_EDGE_WIDTH
        layout.draw()
        _keep_apart(layout)
        # Components side by side: this one starts where the previous one ended.
        placed = [vertex for layer in layout.layers for vertex in layer]
        shift = right - min(v.view.xy[0] - v.view.w / 2 for v in placed)
        for vertex in placed:
            vertex.view.xy = (vertex.view.xy[0] + shift, vertex.view.xy[1])
        right = max(v.view.xy[0] + v.view.w / 2 for v in placed) + NODE_GAP * 2
        mine = {index: edge for index, edge in laid_out.items() if edge in component.sE}
        loops = {index: vertices[a] for index, (a, b, _, _) in enumerate(edges)
                 if a == b and vertices[a] in component.sV}
        for index, (points, gap) in _routes(layout, mine, loops).items():
            routes[index], gaps[index] = points, gap
    boxes = {name: (*vertex.view.xy, vertex.view.w, vertex.view.h)
             for name, vertex in vertices.items()}
    return (boxes, [routes[index] for index in range(len(edges))],
            [gaps[index] for index in range(len(edges))])


def _keep_apart(layout: SugiyamaLayout) -> None:
    """grandalf's final x of a vertex is the mean of two of four candidate placements, and
    nothing guarantees that this keeps neighbours the spacing apart (it did in 200 generated
    graphs): make sure, since the routing relies on it, by pushing them apart in order."""
    for layer in layout.layers:
        ordered = sorted(layer, key=lambda vertex: layout.grx[vertex].pos)
        for left, right in zip(ordered, ordered[1:]):
            least = left.view.xy[0] + (left.view.w + right.view.w) / 2 + layout.xspace
            if right.view.xy[0] < least:
                right.view.xy = (least, right.view.xy[1])


def _routes(layout: SugiyamaLayout, edges: dict[int, Edge], loops: dict[int, Vertex],
            ) -> dict[int, tuple]:
    """Each edge as points: from a port on its source's side, across to the next layer,
    through the slot it has in every layer it passes, to a port on its target's side. Every
    bit either runs in the gap between two layers or stays in the edge's own column of a
    layer, so it crosses no state. A state that leads to itself (`loops`) gets a loop on its
    right, in the room kept between the states of a layer. Returns {edge: (points, its first
    stretch between two layers)}."""
    rank = {vertex: layout.grx[vertex].rank for layer in layout.layers for vertex in layer}
    top, bottom = [], []
    for layer in layout.layers:
        middle = layer[0].view.xy[1]
        half = max(vertex.view.h / 2 for vertex in layer)
        top.append(middle - half)
        bottom.append(middle + half)

    def through(edge) -> list:
        """The vertices an edge passes, from its source to its target."""
        source, target = edge.v
        step = 1 if rank[target] > rank[source] else -1
        slots = layout.ctrls.get(edge, {})
        return [source, *(slots[r] for r in range(rank[source] + step, rank[target], step)),
                target]

    # Ports: the edges on one side of a state, ordered by where they go, spread along it.
    sides = defaultdict(list)
    for index, edge in edges.items():
        passes = through(edge)
        down = rank[passes[-1]] > rank[passes[0]]
        sides[passes[0], "bottom" if down else "top"].append((passes[1].view.xy[0], index, 0))
        sides[passes[-1], "top" if down else "bottom"].append((passes[-2].view.xy[0], index, -1))
    port = {}
    for (vertex, _), attached in sides.items():
        x, width = vertex.view.xy[0], vertex.view.w
        margin = min(12.0, width / 4)
        for number, (_, index, end) in enumerate(sorted(attached)):
            port[index, end] = (x if len(attached) == 1 else
                                x - width / 2 + margin
                                + (width - 2 * margin) * number / (len(attached) - 1))
    routes = {}
    for index, edge in edges.items():
        passes = through(edge)
        down = rank[passes[-1]] > rank[passes[0]]
        near, far = (bottom, top) if down else (top, bottom)  # leave by one, enter by the other
        source, target = passes[0], passes[-1]
        sign = 1 if down else -1
        points = [(port[index, 0], source.view.xy[1] + sign * source.view.h / 2),
                  (port[index, 0], near[rank[source]])]
        for vertex in passes[1:-1]:
            points += [(vertex.view.xy[0], far[rank[vertex]]),
                       (vertex.view.xy[0], near[rank[vertex]])]
        points += [(port[index, -1], far[rank[target]]),
                   (port[index, -1], target.view.xy[1] - sign * target.view.h / 2)]
        routes[index] = ([point for number, point in enumerate(points)
                          if number == 0 or point != points[number - 1]],
                         (points[1], points[2]))  # its first stretch between two layers
    for index, vertex in loops.items():
        (x, y), side = vertex.view.xy, vertex.view.xy[0] + vertex.view.w / 2
        loop, below = side + NODE_GAP * 0.6, bottom[rank[vertex]] + LAYER_GAP / 2
        routes[index] = ([(side, y - 6), (loop, y - 6), (loop, y + 6), (side, y + 6)],
                         ((loop, below), (loop, below)))
    return routes


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
