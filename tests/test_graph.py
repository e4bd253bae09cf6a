"""The offline graph: one node per state (plus Start and End), one edge per transition and catch,
for every workflow of the series and for hand-written ASL."""
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


def parse(svg: str):
    root = ElementTree.fromstring(svg)
    nodes = {g.get("data-state"): g.get("data-type") for g in root.iter(f"{SVG}g")}
    edges = [(line.get("data-from"), line.get("data-to"), line.get("class").split()[1])
             for line in root.iter(f"{SVG}polyline")]
    return nodes, edges


def expected_edges(definition, nested=False):
    """Every transition at every depth; a group's branches have no Start and End of their own."""
    edges = [(a, b, kind) for a, b, kind, _ in graph.edges_of(definition)
             if not nested or "Start" not in (a, b) and "End" not in (a, b)]
    for state in definition["States"].values():
        for branch in graph.branches_of(state):
            edges += expected_edges(branch, nested=True)
    return edges


@pytest.mark.parametrize("definition", [
    *(workflows.definition(workflows.build(name, workflows.Names(**DOCUMENT)))
      for name in sorted(workflows.BUILDERS)), HAND_WRITTEN, NESTED])
def test_a_node_per_state_and_an_edge_per_transition(definition):
    drawn = graph.draw(definition)
    nodes, edges = parse(drawn.svg)
    states = graph.all_states(definition)
    assert set(nodes) == {"Start", "End", *states}
    assert all(nodes[name] == state["Type"] for name, state in states.items())
    assert sorted(edges) == sorted(expected_edges(definition))
    catches = sum(len(s.get("Catch", [])) for s in states.values())
    assert sum(kind == "catch" for *_, kind in edges) == catches
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", drawn.svg)  # nothing to fetch


def test_choice_rules_retries_and_catches_are_labelled():
    drawn = graph.draw(HAND_WRITTEN)
    assert ("Decide", "Wait", "choice", "NumericGreaterThan 1") in graph.edges_of(HAND_WRITTEN)
    assert ("Decide", "Done", "choice", "default") in graph.edges_of(HAND_WRITTEN)
    assert "Work ↻ retry" in drawn.svg and 'stroke-dasharray' in drawn.svg


def test_groups_hold_their_branches():
    root = ElementTree.fromstring(graph.draw(NESTED).svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("data-state") == "Fan out")
    assert group.find(f"{SVG}rect").get("stroke-dasharray")  # drawn as a dashed group
    nested_svgs = [svg for svg in root.iter(f"{SVG}svg") if svg is not root]
    inner_states = [{g.get("data-state") for g in svg.iter(f"{SVG}g")} for svg in nested_svgs]
    assert {"Left"} in inner_states and {"Each", "Item", "Item done"} in inner_states
