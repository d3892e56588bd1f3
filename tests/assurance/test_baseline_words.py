"""How a coverage baseline is named from its problem sentence: none of the project's tests ran, or only some (the
summary's 'Coverage (X -> with the kept tests)'), and which missing modules stopped them."""

from __future__ import annotations

from handoff.assurance.existing_suite import NONE_RAN, ONLY_WHAT_RAN, PARTIAL, baseline_words, missing_modules

SOME = (
    f"{PARTIAL}: 2 test module(s) could not be collected: tests/test_timed.py: ModuleNotFoundError: No module "
    f"named 'freezegun'; tests/test_url.py: ModuleNotFoundError: No module named 'freezegun.api'; {ONLY_WHAT_RAN}"
)
NONE = f"{NONE_RAN}: pytest stopped with an internal error: SystemExit: 2; the coverage baseline is not the suite"


def test_a_baseline_where_some_of_the_projects_tests_ran_is_not_called_without_them() -> None:
    assert baseline_words(SOME) == "baseline only some of the project's tests, see above"
    assert baseline_words(NONE) == "baseline without the project's tests, see above"
    assert baseline_words("") == "existing tests"


def test_the_missing_top_level_modules_are_read_from_pytests_errors_once_each() -> None:
    assert missing_modules(SOME) == ["freezegun"]
    assert missing_modules(NONE) == []
