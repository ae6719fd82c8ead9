"""The cascade widget's kernel side: the frames it records and how it answers its buttons.

The view (``cascade_widget.js``) draws these frames; ``tests/test_browser_00.py``
checks it in a real JupyterLab.
"""

from __future__ import annotations

import json

import pytest

from course_lib.sim.scenarios import cascade
from course_lib.widgets.cascade_widget import (
    RECOVERY_AT,
    SERVICES,
    CascadeWidget,
    record_frames,
    show_cascade,
    show_timeout,
)


@pytest.fixture(scope="module")
def widget() -> CascadeWidget:
    return show_cascade()


def test_two_panels_of_120_frames(widget: CascadeWidget) -> None:
    before, after = widget.panels
    assert before["label"].startswith("before") and after["label"].startswith("after")
    assert [len(p["frames"]) for p in widget.panels] == [120, 120]  # 60 s every 0.5 s
    assert [s["name"] for s in before["services"]] == list(SERVICES)
    assert [s["workers"] for s in before["services"]] == [20, 10, 10]
    assert not before["error"] and not after["error"]


def test_frames_are_small(widget: CascadeWidget) -> None:
    state = json.dumps(widget.get_state())
    assert len(state) < 100_000, f"{len(state)} bytes of widget state; the target is <= 1 MB"


def test_frames_are_the_simulation_samples(widget: CascadeWidget) -> None:
    run = cascade(False, 1)
    assert widget.panels[0]["frames"] == record_frames(run)
    gateway = run.metrics("gateway").series
    frames = widget.panels[0]["frames"]
    assert [f["t"] for f in frames] == [round(t, 3) for t in gateway["time"]]
    assert [f["s"][0][0] for f in frames] == gateway["in_flight"]
    assert [f["s"][0][1] for f in frames] == gateway["queued"]
    lost = [f["s"][0][2] for f in frames]
    assert lost == sorted(lost), "turned away counts only grow"
    assert lost[-1] == sum(
        run.metrics("gateway").outcomes[o] for o in ("rejected", "timed_out", "failed")
    )


def test_the_cascade_shows_unprotected_and_not_protected(widget: CascadeWidget) -> None:
    def gateway_full(panel: dict[str, object], t: float) -> bool:
        frame = next(f for f in panel["frames"] if f["t"] == t)  # type: ignore[attr-defined]
        return bool(frame["s"][0][0] == 20)

    before, after = widget.panels
    assert gateway_full(before, 30.0) and not gateway_full(after, 30.0)
    during = next(f for f in before["frames"] if f["t"] == 30.0)
    assert during["fault"] is True and during["r"][0] is not None and during["r"][0] < 0.5


def test_the_fault_buttons_record_again() -> None:
    widget = show_cascade()
    widget.frame, widget.playing = 50, True
    widget.fault = "outage"
    assert (widget.frame, widget.playing) == (0, False)
    assert "outage" in widget.fault_text
    assert widget.panels[0]["frames"] == record_frames(cascade(False, 1, fault="outage"))
    widget.recovery = True
    assert f"recovered at t={RECOVERY_AT:g} s" in widget.fault_text
    recovered = cascade(False, 1, fault="outage", recovery_at=RECOVERY_AT)
    assert widget.panels[0]["frames"] == record_frames(recovered)
    assert not any(f["fault"] for f in widget.panels[0]["frames"] if f["t"] > 31)


def test_a_timeout_only_panel() -> None:
    widget = show_cascade(timeout_ms=200)
    assert "200 ms timeout" in widget.panels[1]["label"]
    assert widget.panels[1]["frames"] == record_frames(cascade(False, 1, timeout=0.2))


@pytest.mark.parametrize("bad", ["200", -5, 0, float("nan"), True, [200]])
def test_a_bad_timeout_is_a_one_line_message_in_its_panel(bad: object) -> None:
    widget = show_cascade(timeout_ms=bad)
    before, after = widget.panels
    assert before["frames"] and not before["error"]
    assert after["frames"] == [] and "number of milliseconds above 0" in after["error"]
    assert "\n" not in after["error"]


def test_show_timeout_prints_the_pools_but_not_what_is_broken(
    capsys: pytest.CaptureFixture[str],
) -> None:
    show_timeout(200)
    out = capsys.readouterr().out
    assert "  payments pool full 100.0% of the spike" in out, out
    assert "/catalog ok during the spike: 100.0%" in out, out
    assert "broken" not in out and "/checkout ok during" not in out, out
    assert "'payments'" not in out and "['" not in out, out
    with pytest.raises(NotImplementedError, match="Not written yet"):
        show_timeout(None)


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="fault"):
        CascadeWidget(fault="meteor")
