"""The hostile catalogue: every ``autograders/submissions/*/hostile-*.toml`` is well formed.

Each entry is GRADED by the course selfcheck (``tests/test_selfcheck.py::test_course_selfcheck``):
in a batch mixed with a fresh correct and a fresh blank submission, each must get exactly its
``expected_score``, the batch must finish, and afterwards the gradebook rows of the first batch,
every submission file and the source notebooks must be byte-for-byte unchanged. Grading them
again here would only double the suite's slowest part; this file checks the catalogue itself.
"""

from __future__ import annotations

from pathlib import Path

from autograders.submissions import THREATS, load

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = sorted((ROOT / "autograders" / "submissions").glob("*/hostile-*.toml"))


def test_the_catalogue_covers_every_threat() -> None:
    known = [load(path) for path in CATALOGUE]
    assert len(known) >= 15
    assert {k.threat for k in known} == set(THREATS)
    for k in known:
        assert k.expected_score is not None, f"{k.path.name} must give expected_score"
