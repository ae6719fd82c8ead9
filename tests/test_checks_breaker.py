"""Notebook 01's checks and grading: the solution passes, each known bug fails its exercise.

The fast tests run the notebook's cells in this process (answer, skeleton and test
cells, hidden tests included; widget cells skipped) with answer cells replaced as
``autograders/submissions/01-circuit-breaker/*.toml`` says, and compare the test cells
that fail with the file's ``expect_failed``. The ``slow`` test executes the real
notebook in a kernel with nbclient.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01-circuit-breaker" / "01-circuit-breaker.ipynb"
SUBMISSIONS = ROOT / "autograders" / "submissions" / "01-circuit-breaker"
TEST_CELLS = {
    "window-tests",
    "trip-tests",
    "closed-tests",
    "call-tests",
    "cooldown-tests",
    "half-open-tests",
    "machine-tests",
}

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograders.assignments import nbgrader_metadata  # noqa: E402
from autograders.graders import breaker as graders  # noqa: E402
from autograders.graders._pristine import load_reference, refuse_reference  # noqa: E402
from course_lib.checks import breaker as checks  # noqa: E402
from course_lib.checks.kit import CheckFailed  # noqa: E402

# What each known bug's failing hidden test must say (plain words a student can act on).
EXPECTED_MESSAGES = {
    "trip-strictly-above": ["returned False; expected True", "reaches the 50% threshold"],
    "trip-ignores-minimum": ["returned True; expected False", "no verdict yet"],
    "window-never-evicts": ["your calls is 4; expected 3", "only the last 3 calls count"],
    "window-rate-over-size": ["your failure_rate is", "failures / calls"],
    "window-empty-rate-divides-by-zero": ["empty RollingWindow", "ZeroDivisionError"],
    "closed-checks-only-after-failures": ["your breaker is CLOSED; expected OPEN", "says trip"],
    "call-fallback-ignored": ["raised CircuitOpenError", "expected it to return"],
    "call-falsy-fallback": ["fallback=0", "only fallback=None means no fallback"],
    "call-fallback-on-failure": ["returned instead of letting the error propagate"],
    "cooldown-strictly-after": ["expected HALF_OPEN", "now >= opened_at + cooldown"],
    "half-open-unlimited-trials": ["allow() returned True; expected False", "may go through"],
    "half-open-closes-after-first-success": ["is CLOSED; expected HALF_OPEN", "succeeded so far"],
    "half-open-cooldown-not-restarted": ["opened_at is", "restarts the cooldown"],
    "half-open-closes-without-reset": ["window still holds 2 failures in 2 calls", "self.reset()"],
    "window-error-does-not-name-size": ["RollingWindow(0) raised ValueError", "name the parameter"],
    "window-accepts-size-zero": ["RollingWindow(0) should raise ValueError"],
    "call-wraps-the-error": ["raised RuntimeError", "expected fn's own ConnectionError"],
    "call-calls-fn-when-open": ["called fn", "fail fast without calling it"],
    "call-open-error-says-nothing": ["CircuitOpenError('')", "say that the circuit is open"],
    "window-always-equal": ["should be a whole number, got an object of type Anything"],
}


def _strip_markers(source: str) -> str:
    return "\n".join(
        line
        for line in source.split("\n")
        if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
    )


def _visible_only(nb: Any) -> Any:
    """A copy of ``nb`` whose test cells keep only their visible part (the student's view)."""
    copy = nbformat.reads(nbformat.writes(nb), as_version=4)
    for cell in copy.cells:
        if nbgrader_metadata(cell).get("grade"):
            cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    return copy


def run_notebook_cells(
    nb: Any, replace: dict[str, str] | None = None
) -> dict[str, BaseException | None]:
    """Exec the nbgrader code cells in order; return each test cell's error (or None)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    results: dict[str, BaseException | None] = {}
    replace = replace or {}
    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type != "code" or not meta:
            continue  # markdown, and the ungraded widget cells
        grade_id = meta["grade_id"]
        source = replace.get(grade_id, cell.source)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(_strip_markers(source), grade_id, "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 - recorded for the assertions
            if not meta.get("grade"):
                raise AssertionError(f"the non-test cell {grade_id} raised {error!r}") from error
            results[grade_id] = error
        else:
            if meta.get("grade"):
                results[grade_id] = None
    return results


@pytest.fixture(scope="module")
def source_nb() -> Any:
    return nbformat.read(str(NOTEBOOK), as_version=4)


@pytest.fixture(scope="module")
def blank_nb(source_nb: Any) -> Any:
    """The student version: solutions replaced by the course's stub, hidden tests removed."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
    from traitlets.config import Config

    config = Config()
    config.ClearSolutions.code_stub = {
        "python": 'raise NotImplementedError("Not written yet: replace this line with your code '
        '(see the exercise above).")'
    }
    nb = nbformat.reads(nbformat.writes(source_nb), 4)
    resources: dict[str, Any] = {}
    nb, resources = ClearSolutions(config=config).preprocess(nb, resources)
    nb, resources = ClearHiddenTests(config=config).preprocess(nb, resources)
    return nb


def _with_hidden_tests(blank: Any, source: Any) -> Any:
    """The blank version with the source's test cells put back (as the graders run them)."""
    nb = nbformat.reads(nbformat.writes(blank), 4)
    tests = {
        nbgrader_metadata(c)["grade_id"]: c.source
        for c in source.cells
        if nbgrader_metadata(c).get("grade")
    }
    for cell in nb.cells:
        if nbgrader_metadata(cell).get("grade"):
            cell.source = tests[nbgrader_metadata(cell)["grade_id"]]
    return nb


@pytest.fixture(scope="module")
def solution(source_nb: Any) -> dict[str, Any]:
    """The notebook's solution: names defined by its answer and skeleton cells."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in source_nb.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type == "code" and meta and not meta.get("grade"):
            exec(compile(_strip_markers(cell.source), meta["grade_id"], "exec"), namespace)  # noqa: S102
    return namespace


# --- the notebook itself --------------------------------------------------------------


def test_notebook_words(source_nb: Any) -> None:
    """The module's notes are "the module's notes"; one trip rule, in the vocabulary's words."""
    from course_lib.breaker_vocabulary import TRIP_RULE

    text = "\n".join(cell.source for cell in source_nb.cells)
    assert "the seed" not in text.lower() and "seed's" not in text.lower()
    assert TRIP_RULE in text
    assert "course_lib._validate" not in text  # the skeleton uses the public BreakerConfig


def test_solution_passes_every_test_cell(source_nb: Any) -> None:
    results = run_notebook_cells(source_nb)
    assert set(results) == TEST_CELLS
    failed = {gid: repr(err) for gid, err in results.items() if err is not None}
    assert failed == {}


def test_visible_checks_print_a_tick(
    solution: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ns = solution
    checks.check_window(ns["RollingWindow"])
    checks.check_should_trip(ns["should_trip"])
    checks.check_closed(ns["MyBreaker"], ns["RollingWindow"], ns["should_trip"])
    checks.check_call(ns["MyBreaker"])
    checks.check_cooldown(ns["MyBreaker"])
    checks.check_half_open(ns["MyBreaker"])
    checks.check_machine(ns["MyBreaker"])
    captured = capsys.readouterr()
    assert captured.out.count("✓") == 7
    assert captured.err == ""


def _known() -> list[Path]:
    """The known-buggy submissions (hostile ones, with a ``threat``, are the sandbox's tests)."""
    return sorted(
        path
        for path in SUBMISSIONS.glob("*.toml")
        if "threat" not in tomllib.loads(path.read_text(encoding="utf-8"))
    )


def test_there_are_enough_known_bugs() -> None:
    assert len(_known()) >= 8
    assert {p.stem for p in _known()} == set(EXPECTED_MESSAGES)


def _points(nb: Any) -> dict[str, float]:
    return {
        nbgrader_metadata(c)["grade_id"]: nbgrader_metadata(c)["points"]
        for c in nb.cells
        if nbgrader_metadata(c).get("grade")
    }


@pytest.mark.parametrize("path", _known(), ids=lambda p: p.stem)
def test_known_bug_fails_exactly_its_cells(path: Path, source_nb: Any, blank_nb: Any) -> None:
    known = tomllib.loads(path.read_text(encoding="utf-8"))
    base = (
        source_nb
        if known.get("base", "solution") == "solution"
        else _with_hidden_tests(blank_nb, source_nb)
    )
    results = run_notebook_cells(base, {k: v.strip("\n") for k, v in known["replace"].items()})
    failed = {gid for gid, err in results.items() if err is not None}
    if "expect_failed" in known:
        assert failed == set(known["expect_failed"]), {g: repr(e) for g, e in results.items() if e}
    points = _points(source_nb)
    if "expected_score" in known:
        score = sum(points[gid] for gid, err in results.items() if err is None)
        assert score == known["expected_score"], {g: repr(e) for g, e in results.items() if e}
    own_cell = next(
        gid
        for gid in sorted(failed, key=list(points).index)
        if gid != "machine-tests" and not isinstance(results[gid], NotImplementedError)
    )
    error = results[own_cell]
    assert isinstance(error, CheckFailed), f"{own_cell}: {error!r} is not a plain message"
    for fragment in EXPECTED_MESSAGES[path.stem]:
        assert fragment in str(error), str(error)


@pytest.mark.parametrize(
    "path",
    [p for p in _known() if tomllib.loads(p.read_text(encoding="utf-8")).get("base") != "blank"],
    ids=lambda p: p.stem,
)
def test_the_visible_check_catches_every_warning_of_the_text(path: Path, source_nb: Any) -> None:
    """Each known bug breaks a rule the exercise's text states: its visible check fails too."""
    known = tomllib.loads(path.read_text(encoding="utf-8"))
    results = run_notebook_cells(
        _visible_only(source_nb), {k: v.strip("\n") for k, v in known["replace"].items()}
    )
    own = [gid for gid in known["expect_failed"] if gid != "machine-tests"]
    for gid in own:
        assert isinstance(results[gid], CheckFailed), (path.stem, gid, results[gid])
        # what the student is shown is no answer to paste: no line of a solution in it
        shown = str(results[gid])
        pasted = [line for line in _solution_lines(source_nb) if line in shown]
        assert not pasted and "def " not in shown, (shown, pasted)


def _solution_lines(nb: Any) -> set[str]:
    """The solutions' code lines (longer than a bare keyword) the exercise text does not give.

    A line the text already shows (``self.trip(now)``) is a hint, not an answer.
    """
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    lines: set[str] = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) > 12 and line.strip() not in text:
                lines.add(line.strip())
    return lines


# --- grading functions one by one -----------------------------------------------------


def test_grade_should_trip_reports_the_boundary_in_plain_words() -> None:
    def strictly_above(failures: int, calls: int, threshold: float, minimum_calls: int) -> bool:
        return calls >= minimum_calls and failures / calls > threshold

    with pytest.raises(
        CheckFailed, match=r"reaches the 100% threshold \(the rule: failures / calls >= threshold"
    ):
        graders.grade_should_trip(strictly_above)


def test_check_should_trip_explains_the_50_percent_boundary() -> None:
    def strictly_above(failures: int, calls: int, threshold: float, minimum_calls: int) -> bool:
        return calls >= minimum_calls and failures / calls > threshold

    with pytest.raises(
        AssertionError, match=r"5 of 10 is a 50% failure rate, which reaches the 50%"
    ):
        checks.check_should_trip(strictly_above)


def test_a_crashing_should_trip_gets_a_plain_message() -> None:
    def divides_first(failures: int, calls: int, threshold: float, minimum_calls: int) -> bool:
        return failures / calls >= threshold and calls >= minimum_calls

    with pytest.raises(
        AssertionError, match=r"should_trip\(0, 0, 0.5, 1\) raised ZeroDivisionError"
    ):
        checks.check_should_trip(divides_first)


def test_grade_window_shrinks_to_the_shortest_sequence(solution: dict[str, Any]) -> None:
    class NeverEvicts(solution["RollingWindow"]):  # type: ignore[misc, name-defined]
        def record(self, failed: bool) -> None:
            self._outcomes.append(bool(failed))
            self._failures += bool(failed)

    with pytest.raises(AssertionError) as caught:
        graders.grade_window(NeverEvicts)
    # the shortest story: two calls in a window of one
    assert "in a RollingWindow(1)" in str(caught.value)
    assert "only the last call counts" in str(caught.value)
    assert str(caught.value).count(",") <= 3


def test_grade_machine_reports_shortest_divergence(solution: dict[str, Any]) -> None:
    base = solution["MyBreaker"]

    class TripsLate(base):  # type: ignore[misc, valid-type]
        def record_closed(self, failed: bool, now: float) -> None:
            self.window.record(failed)
            w = self.window
            if w.calls >= self.minimum_calls and w.failures / w.calls > self.failure_rate_threshold:
                self.trip(now)

    with pytest.raises(AssertionError) as caught:
        graders.grade_machine(TripsLate)
    message = str(caught.value)
    assert "your breaker" in message and "the reference" in message and "With window of" in message
    assert message.count("then") <= 2, message


def test_grade_machine_uses_given_reference(solution: dict[str, Any]) -> None:
    # a student breaker compared with itself always agrees
    graders.grade_machine(solution["MyBreaker"], reference=solution["MyBreaker"], scenarios=5)


def test_bad_constructor_is_reported_plainly() -> None:
    class NoKeywords:
        def __init__(self) -> None:
            pass

    with pytest.raises(CheckFailed, match=r"MyBreaker\(window_size=.*raised TypeError"):
        checks.check_cooldown(NoKeywords)


# --- refusing the reference -----------------------------------------------------------


def test_a_subclass_of_the_reference_is_refused() -> None:
    from course_lib.breaker import CircuitBreaker

    class Sneaky(CircuitBreaker):
        pass

    with pytest.raises(AssertionError, match="subclasses it"):
        graders.grade_machine(Sneaky)
    with pytest.raises(AssertionError, match="subclasses it"):
        graders.grade_half_open(Sneaky)
    with pytest.raises(CheckFailed, match="MyBreaker has no attribute 'window'"):
        checks.check_half_open(Sneaky)  # the visible check does not look for borrowing


def test_a_wrapper_holding_the_reference_is_refused() -> None:
    import importlib

    class Wrapper:
        """Builds the reference at run time, so only the instance shows it."""

        def __init__(self, **config: Any) -> None:
            module = importlib.import_module("course_lib.breaker")
            self.inner = module.CircuitBreaker(**config)

        def allow(self, now: float) -> bool:
            return bool(self.inner.allow(now))

        def record_success(self, now: float) -> None:
            self.inner.record_success(now)

        def record_failure(self, now: float) -> None:
            self.inner.record_failure(now)

        @property
        def state(self) -> str:
            return str(self.inner.state)

    with pytest.raises(AssertionError, match=r"holds a CircuitBreaker .* in \.inner"):
        graders.grade_machine(Wrapper)


def test_a_captured_or_default_reference_class_is_refused() -> None:
    from course_lib.breaker import CircuitBreaker

    class Captured:
        def __init__(self, **config: Any) -> None:
            self.inner = CircuitBreaker(**config)

    class Defaulted:
        def __init__(self, make: Any = CircuitBreaker, **config: Any) -> None:
            self.inner = make(**config)

    with pytest.raises(AssertionError, match=r"Captured\.__init__ uses a captured type"):
        refuse_reference(Captured, "Captured")
    with pytest.raises(AssertionError, match=r"Defaulted\.__init__ uses a default argument"):
        refuse_reference(Defaulted, "Defaulted")


def test_a_global_reference_instance_is_refused() -> None:
    import course_lib.breaker

    shared = course_lib.breaker.CircuitBreaker()
    namespace: dict[str, Any] = {"shared": shared}
    exec(  # noqa: S102 - a notebook cell that delegates to a global
        "class Delegating:\n    def allow(self, now):\n        return shared.allow(now)\n",
        namespace,
    )
    with pytest.raises(AssertionError, match=r"Delegating\.allow uses the name 'shared'"):
        refuse_reference(namespace["Delegating"], "Delegating")


def test_borrowed_methods_are_refused() -> None:
    from course_lib.breaker import CircuitBreaker

    class Borrower:
        allow = CircuitBreaker.allow

    with pytest.raises(AssertionError, match=r"Borrower\.allow is taken from course_lib\.breaker"):
        refuse_reference(Borrower, "Borrower")


def test_a_monkeypatched_reference_does_not_change_the_grading(
    solution: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import course_lib.breaker
    from autograders.graders import _pristine

    monkeypatch.setattr(_pristine, "_cache", {})  # the pristine copy is made after the patch
    monkeypatch.setattr(course_lib.breaker.CircuitBreaker, "allow", lambda self, now=None: True)
    monkeypatch.setattr(course_lib.breaker.CircuitBreaker, "state", property(lambda self: "closed"))

    class AlwaysClosed:
        def __init__(self, **config: Any) -> None:
            self.state = "closed"

        def allow(self, now: float) -> bool:
            return True

        def record_success(self, now: float) -> None:
            pass

        def record_failure(self, now: float) -> None:
            pass

    # the patched reference would agree with AlwaysClosed; the pristine one does not
    with pytest.raises(CheckFailed, match="your breaker is CLOSED; the reference is OPEN"):
        graders.grade_machine(AlwaysClosed)
    graders.grade_machine(solution["MyBreaker"], scenarios=20)


def test_pristine_copy_is_private_and_independent() -> None:
    import course_lib.breaker

    pristine = load_reference("breaker")
    assert pristine is load_reference("breaker")
    assert pristine.CircuitBreaker is not course_lib.breaker.CircuitBreaker
    assert pristine.__name__ not in sys.modules
    assert sys.modules["course_lib.breaker"] is course_lib.breaker
    with pytest.raises(ModuleNotFoundError, match="missing"):
        load_reference("no_such_module")
    with pytest.raises(ValueError, match="module name"):
        load_reference("../etc/passwd")


def test_infrastructure_is_allowed() -> None:
    from course_lib.errors import CircuitOpenError

    class UsesErrors:
        error = CircuitOpenError

        def fail(self) -> None:
            raise CircuitOpenError("open")

    refuse_reference(UsesErrors, "UsesErrors")  # errors, clocks, events, replay are fine


def test_one_policy_names_the_reference_and_the_free_modules() -> None:
    from autograders import policy, sandbox
    from autograders.graders._pristine import is_reference_object
    from course_lib import breaker_vocabulary, replay
    from course_lib.sim import scenarios

    package = ROOT / "course_lib"
    for name in policy.INFRASTRUCTURE_MODULES:
        assert (package / f"{name}.py").is_file(), f"the policy names a missing module {name}"
    # the sandbox stubs exactly what the policy calls the reference, and keeps what it frees
    with sandbox.Runtime() as runtime:
        lib = runtime.path / "course_lib"
        for path in sorted(package.glob("*.py")) + sorted(
            p for p in package.iterdir() if (p / "__init__.py").is_file()
        ):
            name = path.stem if path.suffix == ".py" else path.name
            if name.startswith("__") or name == "checks":
                continue
            stubbed = "ImportError" in (lib / f"{name}.py").read_text()
            assert stubbed == policy.is_reference(f"course_lib.{name}"), name
        assert not (lib / "checks").exists()
    assert policy.is_reference("course_lib.fast_breaker")
    assert policy.is_reference("course_lib.breaker") and policy.is_reference(
        "course_lib.sim.engine"
    )
    assert policy.is_free("course_lib.errors") and policy.is_free("collections")
    assert not is_reference_object(replay.BreakerConfig) and not is_reference_object(
        breaker_vocabulary.display_name
    )
    assert is_reference_object(scenarios.cascade) and is_reference_object(graders.grade_window)


def test_an_always_equal_window_with_a_nan_rate_earns_nothing() -> None:
    class Anything:
        def __eq__(self, other: object) -> bool:
            return True

        def __ne__(self, other: object) -> bool:
            return False

        __hash__ = object.__hash__

    class Cheat:
        calls = Anything()
        failures = Anything()
        failure_rate = float("nan")

        def __init__(self, size: int) -> None:
            if size < 1:
                raise ValueError("size must be at least 1")

        def record(self, failed: bool) -> None:
            pass

    with pytest.raises(CheckFailed, match="calls should be a whole number, got an object of type"):
        checks.check_window(Cheat)
    with pytest.raises(CheckFailed, match="calls should be a whole number, got an object of type"):
        graders.grade_window(Cheat)
    Cheat.calls = Cheat.failures = 0  # type: ignore[assignment]
    with pytest.raises(CheckFailed, match=r"failure_rate should be a number, got nan"):
        graders.grade_window(Cheat)


# --- the real notebook in a kernel ----------------------------------------------------
