"""Text cut for a line ends at a word where one is near, and always says it was cut."""

from __future__ import annotations

from handoff.common.text import clipped


def test_text_that_fits_is_returned_as_it_is() -> None:
    assert clipped("crosshair failed on isoweek.Week.day", 36) == "crosshair failed on isoweek.Week.day"


def test_a_cut_inside_a_word_ends_at_the_word_before_it() -> None:
    """isoweek 1.3.3: the summary ended ``…; crosshair failed on isoweek.Week.year_week; crosshair faile.``."""
    said = "crosshair failed on isoweek.Week.year_week; crosshair failed on isoweek.Week.replace"
    assert clipped(said, 51) == "crosshair failed on isoweek.Week.year_week…"
    assert len(clipped(said, 51)) <= 51


def test_a_cut_with_no_space_near_it_stays_where_the_limit_is() -> None:
    assert clipped("a " + "x" * 40, 20) == "a " + "x" * 17 + "…"
    assert clipped("y" * 30, 10) == "y" * 9 + "…"


def test_a_cut_between_words_keeps_every_word_before_it() -> None:
    assert clipped("one two three four", 9) == "one two…"
