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


def parse(svg: str):
    root = ElementTree.fromstring(svg)
    nodes = {g.get("data-state"): g.get("data-type") for g in root.iter(f"{SVG}g")}
    edges = [(line.get("data-from"), line.get("data-to"), line.get("class").split()[1])
             for line in root.iter(f"{SVG}polyline")]
    return nodes, edges


@pytest.mark.parametrize("definition", [
    *(workflows.definition(workflows.build(name, workflows.Names(**DOCUMENT)))
      for name in sorted(workflows.BUILDERS)), HAND_WRITTEN])
def test_a_node_per_state_and_an_edge_per_transition(definition):
    drawn = graph.draw(definition)
    nodes, edges = parse(drawn.svg)
    assert set(nodes) == {"Start", "End", *definition["States"]}
    assert all(nodes[name] == state["Type"] for name, state in definition["States"].items())
    expected = {(a, b, kind) for a, b, kind, _ in graph.edges_of(definition)}
    assert set(edges) == expected and len(edges) == len(graph.edges_of(definition))
    catches = sum(len(s.get("Catch", [])) for s in definition["States"].values())
    assert sum(kind == "catch" for *_, kind in edges) == catches
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", drawn.svg)  # nothing to fetch


def test_choice_rules_retries_and_catches_are_labelled():
    drawn = graph.draw(HAND_WRITTEN)
    assert ("Decide", "Wait", "choice", "NumericGreaterThan 1") in graph.edges_of(HAND_WRITTEN)
    assert ("Decide", "Done", "choice", "default") in graph.edges_of(HAND_WRITTEN)
    assert "Work ↻ retry" in drawn.svg and 'stroke-dasharray' in drawn.svg
