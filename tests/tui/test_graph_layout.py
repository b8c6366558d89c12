"""Who calls whom at any width: the fault web drawn in layers when it fits (no name cut, no ambiguous `┼`), else
listed as `caller → callee` rows with both scores, the propagation path first."""
from __future__ import annotations

import networkx as nx

from engine.runs.graph_views import call_rows, fault_graph, layered_plan
from rca_tui.widgets.graph_canvas import draw_calls, shortening

# the demo incident's web: one caller of three, a crossing-prone second layer, a service that calls no one
CANDIDATES = [{"entity": name, "score": score} for name, score in (
    ("ts-route-service", 1.0), ("ts-seat-service", 0.32), ("ts-order-service", 0.19), ("ts-food-service", 0.11),
    ("ts-travel-service", 0.09), ("ts-gateway-service", 0.0), ("ts-cancel-service", 0.0),
    ("ts-preserve-other-service", 0.0))]
WEB = {"ts-route-service": ["ts-gateway-service", "ts-travel-service", "ts-route-service"],
       "ts-order-service": ["ts-gateway-service", "ts-cancel-service", "ts-order-service"],
       "ts-seat-service": ["ts-gateway-service", "ts-preserve-other-service", "ts-seat-service"]}


def demo_web() -> nx.DiGraph:
    return fault_graph({"candidates": CANDIDATES, "fault_web": WEB, "root_cause": "ts-route-service",
                        "path": WEB["ts-route-service"]})


def text(grid) -> str:
    return "\n".join("".join(char for char, _ in row).rstrip() for row in grid).rstrip("\n")


def test_beside_the_node_pane_at_80_columns_the_web_is_listed_caller_to_callee_path_first():
    grid, names = draw_calls(demo_web(), 46, 19, None)  # the canvas at 80×24
    lines = text(grid).splitlines()
    assert shortening(names) == "ts-…-service" and "names: ts-…-service" in lines[0]
    assert lines[1].split() == ["gateway", "0.00", "━▶", "travel", "0.09"]  # the path's hops first
    assert lines[2].split() == ["travel", "0.09", "━▶", "route", "1.00"]
    assert ["gateway", "0.00", "→", "preserve-other", "0.00"] in [line.split() for line in lines]
    assert lines[-1].split() == ["food", "0.11", "(no", "calls)"]
    assert "…" not in "".join(lines[1:])  # no name is cut


def test_at_120_columns_the_web_is_drawn_in_layers_with_whole_names_and_no_junction_lookalikes():
    grid, names = draw_calls(demo_web(), 88, 35, "ts-route-service")  # the canvas at 120×40
    lines = text(grid).splitlines()
    assert shortening(names) == ""
    assert lines[:6] == [
        " ts-food-service 0.11                                       ┌───▶›ts-route-service 1.00",
        "                         ┌─▶ ts-travel-service 0.09─────────┘",
        " ts-gateway-service 0.00─┤                                   ┌──▶ ts-order-service 0.19",
        "                         ├─▶ ts-cancel-service 0.00──────────┘",
        "                         │                                    ┌─▶ ts-seat-service 0.32",
        "                         └─▶ ts-preserve-other-service 0.00───┘"]
    wide, _ = draw_calls(demo_web(), 168, 45, "ts-route-service")  # 200×50: the same drawing, not stretched
    assert text(wide) == text(grid)


def test_where_unrelated_edges_cross_the_vertical_runs_through_and_shared_ends_join():
    graph = nx.DiGraph(path=[])
    for node in "abcd":
        graph.add_node(node, score=0.5, root=False, on_path=False)
    graph.add_edges_from([("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")], on_path=False)
    assert text(draw_calls(graph, 60, 10, None)[0]).splitlines() == [
        " a 0.50─┐",
        "        ├┬─▶ c 0.50",
        " b 0.50─│┤",  # b's line crosses a's trunk: no ┼ that would read as a's edges and b's meeting
        "        └┴─▶ d 0.50"]


def test_long_edges_pass_through_the_layers_between_and_callers_sit_next_to_their_callees():
    graph = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c"), ("d", "c")])
    plan = layered_plan(graph)
    layer = {node: index for index, nodes in enumerate(plan.layers) for node in nodes if node not in plan.dummies}
    assert layer == {"a": 0, "b": 1, "d": 1, "c": 2}
    assert len(plan.dummies) == 1  # a → c passes layer 1
    assert {(a, b) for a, b, edge in plan.hops if edge == ("a", "c")} == {("a", next(iter(plan.dummies))),
                                                                      (next(iter(plan.dummies)), "c")}
    assert layered_plan(nx.DiGraph([("a", "b"), ("b", "a")])) is None  # a cycle: the rows show it


def test_call_rows_put_the_path_first_then_callers_by_score_then_lonely_nodes():
    rows = call_rows(demo_web())
    assert [(r.caller, r.callee, r.on_path) for r in rows[:2]] == [
        ("ts-gateway-service", "ts-travel-service", True), ("ts-travel-service", "ts-route-service", True)]
    assert rows[-1].caller == "ts-food-service" and rows[-1].callee is None
