import os
from pathlib import Path

from grading import grade


def test_boundary_decides_pass_or_fail():
    assert grade(50) == "pass"
    assert grade(49) == "fail"


def test_wrong_expectation():
    assert grade(10) == "pass"


def test_passes_every_other_run():
    counter = Path(os.environ["FLAKY_COUNTER"])
    runs = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(runs))
    assert runs % 2 == 1


def test_another_passing_score():
    assert grade(70) == "pass"


def test_calls_without_checking():
    grade(60)
