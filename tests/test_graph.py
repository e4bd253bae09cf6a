"""The offline graph: one node per state (plus Start and End), one edge per transition, a Catch to
a handler that several states share marked once on each of them instead of a fan of lines; and a
layout a learner can follow: no two states overlap, no edge crosses a state it does not connect,
no label sits on a state. Checked for every workflow of the series, hand-written ASL and a batch
of generated state machines (loops, Choices, shared and single catch handlers, Parallel groups)."""
import functools
import json
import random
import re
import xml.etree.ElementTree as ElementTree

import pytest

from helpers import graph, workflows
from tests.test_helpers import DOCUMENT

SVG = "{http://www.w3.org/2000/svg}"
HAND_WRITTEN = {"StartAt": "Decide", "States": {
    "Decide": {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Wait"}], "Default": "Done"},
    "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Work"},
    "Work": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Next": "Done",
             "Retry": [{"ErrorEquals": ["States.Timeout"]}],
             "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Broken"}]},
    "Broken": {"Type": "Fail"},
    "Done": {"Type": "Succeed"}}}
NESTED = {"StartAt": "Fan out", "States": {
    "Fan out": {"Type": "Parallel", "Next": "Finish", "Branches": [
        {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
        {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "End": True,
            "ItemProcessor": {"StartAt": "Item", "States": {
                "Item": {"Type": "Wait", "Seconds": 1, "Next": "Item done"},
                "Item done": {"Type": "Succeed"}}}}}}]},
    "Finish": {"Type": "Pass", "End": True}}}
SERIES = {name: workflows.definition(workflows.build(name, workflows.Names(**DOCUMENT)))
          for name in sorted(workflows.BUILDERS)}


def generated(seed: int, depth: int = 0) -> dict:
    """A state machine with the shapes that make layouts hard: Choices that jump forward and
    back (loops), a state leading to itself, Catches to a shared handler and to single ones,
    states nothing leads to, Parallel groups."""
    rng = random.Random(seed)
    prefix = "S" if depth == 0 else f"B{seed}."  # names are unique across branches too
    names = [f"{prefix}{i}" for i in range(rng.randint(4, 12))]
    handler, states = names[-1], {names[-1]: {"Type": "Fail"}}
    states[names[-2]] = {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True}
    for i, name in enumerate(names[:-2]):
        following = names[rng.randrange(i + 1, len(names) - 1)]
        kind = rng.choice(["Task", "Task", "Choice", "Pass"] + ["Parallel"] * (depth == 0))
        if kind == "Choice":
            states[name] = {"Type": kind, "Default": following, "Choices": [
                {"Variable": "$.x", "StringEquals": str(k), "Next": rng.choice(names[:-1])}
                for k in range(rng.randint(1, 3))]}
        elif kind == "Parallel":
            states[name] = {"Type": kind, "Next": following, "Branches": [
                generated(seed * 10 + k, depth + 1) for k in range(2)]}
        else:
            states[name] = {"Type": kind, "Next": following}
        if kind == "Task" and rng.random() < 0.6:
            states[name]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": handler}]
        if kind == "Task" and rng.random() < 0.2:
            states[name].setdefault("Catch", []).insert(0, {
                "ErrorEquals": ["States.Timeout"], "Next": rng.choice(names)})
    return {"StartAt": names[0], "States": states}


ALL = [*SERIES.values(), HAND_WRITTEN, NESTED, *(generated(seed) for seed in range(40))]


@functools.lru_cache(maxsize=None)
def _drawn(definition_json: str) -> str:
    return graph.draw(json.loads(definition_json)).svg


def svg_of(definition: dict) -> str:
    """The definition's graph, drawn once for all the tests that look at it."""
    return _drawn(json.dumps(definition))


def parse(svg: str):
    root = ElementTree.fromstring(svg)
    nodes = {g.get("data-state"): g.get("data-type") for g in root.iter(f"{SVG}g")}
    edges = [(line.get("data-from"), line.get("data-to"), line.get("class").split()[1])
             for line in root.iter(f"{SVG}polyline")]
    markers = [(g.get("data-state"), text.get("data-to"), "catch")
               for g in root.iter(f"{SVG}g") for text in g.iter(f"{SVG}text")
               if text.get("class") == "catch-marker"]
    return nodes, edges, markers


def expected_edges(definition, nested=False):
    """Every transition at every depth; a group's branches have no Start and End of their own."""
    edges = [(a, b, kind) for a, b, kind, _ in graph.edges_of(definition)
             if not nested or "Start" not in (a, b) and "End" not in (a, b)]
    for state in definition["States"].values():
        for branch in graph.branches_of(state):
            edges += expected_edges(branch, nested=True)
    return edges


def drawings(svg: str):
    """Per drawing (the graph, and each group's branch, drawn in coordinates of its own): its
    states' boxes, its edges' points and its labels' boxes."""
    for drawing in ElementTree.fromstring(svg).iter(f"{SVG}svg"):
        boxes = {}
        for node in drawing.findall(f"{SVG}g"):
            rect = node.find(f"{SVG}rect")
            x, y, w, h = (float(rect.get(key)) for key in ("x", "y", "width", "height"))
            boxes[node.get("data-state")] = (x, y, x + w, y + h)
        edges = [(line.get("data-from"), line.get("data-to"),
                  [tuple(map(float, point.split(","))) for point in line.get("points").split()])
                 for line in drawing.findall(f"{SVG}polyline")]
        labels = []
        for text in drawing.findall(f"{SVG}text"):
            if text.get("class") == "edge-label":  # 10 px text, about 6 px a character
                x, y, half = float(text.get("x")), float(text.get("y")), len(text.text) * 3
                labels.append((text.text, (x - half, y - 9, x + half, y + 2)))
        yield boxes, edges, labels


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def crosses(start, end, box, tolerance=0.5) -> bool:
    """Whether the segment start-end enters the box (Liang-Barsky clipping); touching its
    border does not count."""
    (x0, y0), (x1, y1) = start, end
    left, top = box[0] + tolerance, box[1] + tolerance
    right, bottom = box[2] - tolerance, box[3] - tolerance
    enter, leave = 0.0, 1.0
    for direction, room in ((x0 - x1, x0 - left), (x1 - x0, right - x0),
                            (y0 - y1, y0 - top), (y1 - y0, bottom - y0)):
        if direction == 0:
            if room < 0:
                return False
        elif direction < 0:
            enter = max(enter, room / direction)
        else:
            leave = min(leave, room / direction)
    return enter < leave


def test_the_crossing_check_sees_a_crossing():
    box = (10, 10, 30, 30)
    assert crosses((0, 20), (40, 20), box) and crosses((20, 0), (20, 15), box)
    assert not crosses((0, 0), (40, 0), box) and not crosses((20, 30), (20, 50), box)


@pytest.mark.parametrize("definition", ALL)
def test_a_node_per_state_an_edge_per_transition_and_a_marker_per_shared_catch(definition):
    svg = svg_of(definition)
    nodes, edges, markers = parse(svg)
    states = graph.all_states(definition)
    assert set(nodes) == {"Start", "End", *states}
    assert all(nodes[name] == state["Type"] for name, state in states.items())
    # Every transition is there once: as a line, or (a Catch to a shared handler) as a marker.
    assert sorted(edges + markers) == sorted(expected_edges(definition))
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", svg)  # nothing to fetch


@pytest.mark.parametrize("definition", ALL)
def test_no_edge_crosses_a_state_it_does_not_connect(definition):
    for boxes, edges, labels in drawings(svg_of(definition)):
        names = list(boxes)
        assert not [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
                    if overlap(boxes[a], boxes[b])]
        crossing = [(a, b, name) for a, b, points in edges
                    for start, end in zip(points, points[1:])
                    for name, box in boxes.items()
                    if name not in (a, b) and crosses(start, end, box)]
        assert not crossing
        assert not [(label, name) for label, area in labels for name, box in boxes.items()
                    if overlap(area, box)]


def test_a_shared_catch_handler_is_marked_on_each_state_not_reached_by_a_fan_of_lines():
    definition = SERIES["train-and-host"]
    [(handler, catching)] = graph.shared_catch_handlers(definition).items()
    assert catching == [name for name, state in definition["States"].items()
                        if any(c["Next"] == handler for c in state.get("Catch", []))]
    assert len(catching) > 2
    svg = graph.draw(definition).svg
    nodes, edges, markers = parse(svg)
    assert not [edge for edge in edges if edge[1:] == (handler, "catch")]
    assert sorted(state for state, to, _ in markers if to == handler) == sorted(catching)
    assert f"⚠ Catch from {len(catching)} states" in svg
    assert svg.count(f"⚠ States.ALL → {handler}") == len(catching)
    # The one Catch of §2 stays a line, labelled with what it catches.
    nodes, edges, markers = parse(graph.draw(SERIES["training-retry-notify"]).svg)
    assert ("SageMakerModelTraining", "Notify Failure", "catch") in edges and not markers


def test_a_loop_goes_back_up_into_the_state_it_repeats():
    """§5's wait loop: the Choice leaves upwards and enters the Wait from below."""
    definition = SERIES["train-and-host"]
    types = {name: state["Type"] for name, state in definition["States"].items()}
    [(boxes, edges, _)] = drawings(graph.draw(definition).svg)
    [(choice, wait, points)] = [(a, b, points) for a, b, points in edges
                                if (types.get(a), types.get(b)) == ("Choice", "Wait")]
    assert points[0][1] == boxes[choice][1]  # its top
    assert points[-1][1] == boxes[wait][3]  # the Wait's bottom
    assert all(y1 <= y0 for (_, y0), (_, y1) in zip(points, points[1:]))


def test_choice_rules_retries_and_catches_are_labelled():
    drawn = graph.draw(HAND_WRITTEN)
    assert ("Decide", "Wait", "choice", "NumericGreaterThan 1") in graph.edges_of(HAND_WRITTEN)
    assert ("Decide", "Done", "choice", "default") in graph.edges_of(HAND_WRITTEN)
    assert "Work ↻ retry" in drawn.svg and 'stroke-dasharray' in drawn.svg
    labels = [text for *_, labels in drawings(drawn.svg) for text, _ in labels]
    assert sorted(labels) == ["NumericGreaterThan 1", "States.ALL", "default"]


def test_the_graph_has_alt_text():
    definition = SERIES["train-and-host"]
    root = ElementTree.fromstring(graph.draw(definition).svg)
    assert root.get("role") == "img"
    title, states = root.find(f"{SVG}title").text, list(definition["States"])
    assert title.startswith(f"State machine graph with {len(states)} states: "
                            f"{', '.join(states)}.")
    [(handler, catching)] = graph.shared_catch_handlers(definition).items()
    assert f"{len(catching)} states Catch errors to {handler}" in title
    description = root.find(f"{SVG}desc").text
    assert all(f"{a} --{kind}" in description for a, _, kind, _ in graph.edges_of(definition)
               if a != "Start")


def test_an_execution_colours_the_states_of_groups_too_and_says_so():
    history = [{"type": kind, f"state{'Entered' if 'Entered' in kind else 'Exited'}EventDetails":
                {"name": name}} for kind, name in (
        ("ParallelStateEntered", "Fan out"), ("PassStateEntered", "Left"),
        ("PassStateExited", "Left"), ("MapStateEntered", "Each"), ("WaitStateEntered", "Item"))]
    root = ElementTree.fromstring(graph.draw(NESTED, history).svg)
    statuses = {g.get("data-state"): g.get("data-status") for g in root.iter(f"{SVG}g")}
    assert statuses == {"Fan out": "running", "Left": "succeeded", "Each": "running",
                        "Item": "running", "Item done": "not started", "Finish": "not started",
                        "Start": None, "End": None}
    assert root.find(f"{SVG}title").text.endswith(
        "Coloured by an execution: 3 running, 1 succeeded, 2 not started.")


def test_the_same_definition_draws_the_same_graph():
    assert graph.draw(SERIES["train-and-host"]).svg == graph.draw(SERIES["train-and-host"]).svg


def test_groups_hold_their_branches():
    root = ElementTree.fromstring(graph.draw(NESTED).svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("data-state") == "Fan out")
    assert group.find(f"{SVG}rect").get("stroke-dasharray")  # drawn as a dashed group
    nested_svgs = [svg for svg in root.iter(f"{SVG}svg") if svg is not root]
    inner_states = [{g.get("data-state") for g in svg.iter(f"{SVG}g")} for svg in nested_svgs]
    assert {"Left"} in inner_states and {"Each", "Item", "Item done"} in inner_states
