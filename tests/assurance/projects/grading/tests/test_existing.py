from grading import grade


def test_a_high_score_passes():
    assert grade(90) == "pass"
