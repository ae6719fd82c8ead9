"""The mesh widget (course_lib/widgets/mesh_widget.py): what the kernel records for the view."""

from __future__ import annotations

import json
from typing import Any

import pytest

from course_lib import mesh
from course_lib.widgets.mesh_widget import MeshWidget, events_of, show_mesh

HANG_HANG_OK = [["hang", 0], ["hang", 0], ["200", 300], ["200", 1]]


def test_the_reference_run_is_recorded_as_plain_frames() -> None:
    widget = show_mesh(tries=HANG_HANG_OK, draws=[5, 18, 0])
    (panel,) = widget.panels
    assert panel["kind"] == "reference" and panel["error"] == ""
    # 0-1000 timeout, back-off 5 % 25 = 5, 1005-2005 timeout, 18 % 75 = 18, 2023 + 300
    assert panel["tries"] == [
        [0, 1000, "per-try-timeout"],
        [1005, 2005, "per-try-timeout"],
        [2023, 2323, "200"],
    ]
    assert (panel["status"], panel["ended_at"]) == (200, 2323)
    assert [e["t"] for e in panel["events"]] == [0, 1000, 1005, 2005, 2023, 2323, 2323]
    assert panel["events"][-1]["text"] == "the client gets 200 at 2323 ms"
    assert widget.policy == mesh.parse_virtual_service(mesh.MODULE_POLICY_YAML).as_dict()
    json.dumps(widget.panels)  # plain JSON only


def test_the_tree_multiplies_the_layers() -> None:
    widget = show_mesh(layers=[("a", 3), ("b", 4)])
    assert [level["requests"] for level in widget.tree["layers"]] == [3, 12]
    budget = show_mesh(layers=[("a", 3), ("b", 3)], budget_percent=20.0)
    assert [level["requests"] for level in budget.tree["layers"]] == pytest.approx([1.2, 1.44])


def test_the_students_simulate_is_drawn_beside_the_reference() -> None:
    def simulate(policy: Any, tries: Any, draws: Any) -> Any:
        return mesh.simulate(policy, tries, draws)

    widget = show_mesh(simulate, tries=HANG_HANG_OK)
    student, reference = widget.panels
    assert student["kind"] == "student" and student["label"] == "your simulate"
    assert student["tries"] == reference["tries"] and student["error"] == ""


def test_a_stub_or_a_bad_answer_is_one_line_in_its_panel() -> None:
    def stub(*args: Any) -> Any:
        raise NotImplementedError("Not written yet: simulate")

    student, reference = show_mesh(stub).panels
    assert student["error"].startswith("your simulate raised NotImplementedError: Not written yet")
    assert "\n" not in student["error"] and reference["error"] == ""

    class Weird:
        def __eq__(self, other: object) -> bool:
            return True

    for answer in (None, Weird(), {"tries": "lots", "status": 1, "ended_at": 2}, "x" * 10**6):
        student, _ = show_mesh(lambda *args, answer=answer: answer).panels
        assert student["error"] and len(student["error"]) < 300


def test_a_bad_scenario_is_refused_plainly() -> None:
    with pytest.raises(ValueError, match="tries ran out"):
        MeshWidget(tries=[["503", 1]], draws=[0, 0, 0])
    with pytest.raises(ValueError, match="unknown outcome"):
        MeshWidget(tries=[["teapot", 1]])


def test_events_of_a_request_that_never_ends() -> None:
    never = mesh.simulate({"attempts": 0, "retry_on": []}, [["hang", 0]], [])
    assert events_of(never)[-1] == {"t": None, "text": "the request never ends (no timeout)"}


def test_saved_state_is_small() -> None:
    widget = show_mesh(lambda *a: mesh.simulate(*a), tries=HANG_HANG_OK)
    state = {k: v for k, v in widget.get_state().items() if k not in ("_esm", "_css")}
    assert len(json.dumps(state, default=str)) < 20_000
