"""The graph pane's Soft-IDG view (`s`): a fault-injected run, attributed for real (tiny model) and slashed, drawn
with the blamed step marked and the evidence path highlighted; without an attribution, how to get one."""
from __future__ import annotations

from engine.runs.graph_views import soft_idg_graph, step_node
from engine.runs.session import Session
from engine.runs.timeline import Timeline
from rca_tui.formatting import log_lines
from rca_tui.widgets.graph_canvas import GraphCanvas
from tests.tui.helpers import settle, text_of


def styled_chars(text, style) -> str:
    """The characters of a rendered Text drawn in `style`."""
    return "".join(text.plain[span.start:span.end] for span in text.spans if span.style == style)


def event_numbers(app, run_id) -> list[int]:
    """Soft-IDG step → the event number the agent log and Replay show: the one numbering every pane uses."""
    from engine.runs.navigation import step_seqs

    return step_seqs(app.session.run_events(run_id))


async def test_s_shows_the_soft_idg_with_the_blamed_step_and_the_evidence_path(attributed):
    app, run_id, payload = attributed
    who, when = payload["who"], payload["when"]
    path = [row["step"] for row in payload["evidence_path"]]
    seq = event_numbers(app, run_id)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        canvas = app.screen.query_one(GraphCanvas)
        assert canvas.border_title.startswith("Fault web")
        await pilot.press("s")
        assert canvas.border_title == f"Soft-IDG · blamed {who} @ #{seq[when]} · run {run_id}"
        assert canvas.selected == step_node(when, who)  # the view opens on the blamed step
        drawing = text_of(app, "#graph")
        blamed_line = next(line for line in drawing.splitlines() if f"›#{seq[when]} " in line)
        assert "blamed" in blamed_line and who[:11] in blamed_line
        assert "━ evidence" in drawing
        detail = text_of(app, "#node-detail")
        assert detail.startswith(f"#{seq[when]} · ") and f"(Soft-IDG step {when})" in detail
        assert f"agent  {who}" in detail
        assert "blamed step" in detail
        assert f"slashed {who} -200 stake" in detail and payload["tx"]["tx"][:10] in detail
        assert f"evidence path 1/{len(path)}" in detail

        # the evidence path is highlighted: its hops are on-path edges, drawn (arcs and step numbers) in the path style
        graph = canvas.graph
        name = {graph.nodes[n]["step"]: n for n in graph}
        assert all(graph.nodes[name[step]]["on_path"] for step in path)
        hops = list(zip(path, path[1:]))
        assert all(graph.edges[name[a], name[b]]["on_path"] for a, b in hops)
        assert sum(1 for *_, on in graph.edges(data="on_path") if on) == len(hops)
        rendered = canvas.render()
        assert any(char in styled_chars(rendered, canvas._styles()["path"]) for char in "│┌└├▶")
        assert styled_chars(rendered, canvas._styles()["root"]).startswith(f"›#{seq[when]}")

        # j walks the steps in order and the rows follow: the next step of the path comes into view, highlighted
        await pilot.press(*["j"] * (path[1] - when))
        assert text_of(app, "#node-detail").startswith(f"#{seq[path[1]]} · ")
        assert f"evidence path 2/{len(path)}" in text_of(app, "#node-detail")
        rendered = canvas.render()
        assert f"›#{seq[path[1]]:<3}" in rendered.plain
        assert f"#{seq[path[1]]:<3}" in styled_chars(rendered, canvas._styles()["path"])
        detail = text_of(app, "#node-detail")
        assert f"from   #{seq[when]} " in detail or f", #{seq[when]} " in detail

        await pilot.press("s")
        assert canvas.border_title.startswith("Fault web") and canvas.kind == "fault_web"
        await pilot.press("s")
        assert canvas.selected == name[path[1]]  # each view keeps its own selection


async def test_without_an_attribution_the_soft_idg_says_how_to_get_one(app, story):
    _, run_id = story
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3", "s")
        await settle(pilot)
        canvas = app.screen.query_one(GraphCanvas)
        assert canvas.border_title == f"Soft-IDG · run {run_id}"
        message = text_of(app, "#graph")
        assert f"Run {run_id} has no attribution yet" in message
        assert "rca-tui attribute --slash" in message and f"--run {run_id}" in message
        assert text_of(app, "#node-detail") == "no step"
        await pilot.press("j")  # nothing to select: no crash, still the message
        assert "no attribution yet" in text_of(app, "#graph")


async def test_replay_shows_the_attribution_once_the_cursor_passes_it(attributed):
    app, run_id, payload = attributed
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("3", "s")
        message = text_of(app, "#graph")
        assert "the replay cursor has not reached it yet" in message and f"Run {run_id} is attributed" in message
        await pilot.press("4", "end", "3")
        canvas = app.screen.query_one(GraphCanvas)
        assert canvas.kind == "soft_idg" and f"· replay {run_id} @ " in canvas.border_title
        assert f"blamed {payload['who']} @ #{event_numbers(app, run_id)[payload['when']]}" in canvas.border_title


async def test_a_on_the_runs_pane_attributes_the_selected_run(faulty):
    app, run_id = faulty
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3", "s")
        assert "no attribution yet" in text_of(app, "#graph")
        await pilot.press("5", "a")
        await settle(pilot)
        summary = [n.message for n in app._notifications if "blamed" in n.message]
        assert summary and summary[-1].startswith(f"run {run_id}: blamed ")
        assert "slashed 200 stake" in summary[-1] and "3 shows the Soft-IDG" in summary[-1]
        stored = [e for e in Session(app.db_path).run_events(run_id) if e.kind == "attribution"]
        assert len(stored) == 1
        await pilot.press("3")
        canvas = app.screen.query_one(GraphCanvas)
        who, when = stored[0].payload["who"], stored[0].payload["when"]
        assert canvas.kind == "soft_idg" and canvas.selected == step_node(when, who)
        assert "blamed step" in text_of(app, "#node-detail")


def test_soft_idg_graph_and_the_timeline_gate(attributed):
    app, run_id, payload = attributed
    events = app.session.run_events(run_id)
    timeline = Timeline(run_id, events)
    at = next(i for i, e in enumerate(events) if e.kind == "attribution")
    assert timeline.graph(at)["attribution"] is None and timeline.graph(at)["next_attribution_at"] == at + 1
    assert timeline.graph(at + 1)["attribution"] == payload and timeline.graph(at + 1)["next_attribution_at"] is None
    graph = soft_idg_graph(payload)
    assert graph.graph["kind"] == "soft_idg" and graph.number_of_nodes() == len(payload["graph"]["nodes"])
    blamed = step_node(payload["when"], payload["who"])
    assert [n for n, root in graph.nodes(data="root") if root] == [blamed]
    assert graph.nodes[blamed]["reason"] == next(n["text"] for n in payload["graph"]["nodes"]
                                                 if n["step"] == payload["when"])
    assert graph.graph["path"][0] == blamed and graph.graph["slashed"]["agent"] == payload["who"]
    # an older payload without the graph still draws its evidence path
    bare = soft_idg_graph({k: v for k, v in payload.items() if k != "graph"})
    assert list(bare) == graph.graph["path"] and all(on for *_, on in bare.edges(data="on_path"))
    assert soft_idg_graph(None).number_of_nodes() == 0
    seq = event_numbers(app, run_id)  # the log speaks of event numbers, like Replay and the Soft-IDG
    path = "→".join(f"#{seq[row['step']]}" for row in payload["evidence_path"])
    assert log_lines(timeline, at + 1, limit=1)[0].endswith(
        f"attribution blamed {payload['who']} at #{seq[payload['when']]}, evidence {path}, slashed 200")


async def test_after_attributing_from_runs_the_graph_opens_on_the_whole_runs_soft_idg(faulty):
    """Even with a replay of that run open at event 0, 3 after `a` shows the Soft-IDG, not 'not reached yet'."""
    app, run_id = faulty
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("5", "a")
        await settle(pilot)
        await pilot.press("3")
        canvas = app.screen.query_one(GraphCanvas)
        assert canvas.kind == "soft_idg" and canvas.border_title.startswith("Soft-IDG · blamed ") and canvas.border_title.endswith(f" · run {run_id}")
