"""Poetry's version constraints as PEP 440 specifiers, entry by entry."""

from __future__ import annotations

import pytest

from handoff.environments.poetry import Untranslatable, python_marker, translate_constraint, translate_entry


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("*", ""),
        ("", ""),
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^1.2", ">=1.2,<2.0"),
        ("^1", ">=1,<2"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0.0", ">=0.0,<0.1"),
        ("^0", ">=0,<1"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1.2", ">=1.2,<1.3"),
        ("~1", ">=1,<2"),
        ("~=1.2", "~=1.2"),
        ("1.2.3", "==1.2.3"),
        ("1.2.*", "==1.2.*"),
        ("=2.0", "==2.0"),
        (">=1.2,<2.0", ">=1.2,<2.0"),
        (">= 1.2, < 2", ">=1.2,<2"),
        (">=1.2 <2.0 !=1.5", ">=1.2,<2.0,!=1.5"),
        ("^2.1.0b1", ">=2.1.0b1,<3.0.0"),
    ],
)
def test_a_poetry_constraint_becomes_the_same_range_in_pep_440(poetry: str, pep440: str) -> None:
    assert translate_constraint(poetry) == pep440


@pytest.mark.parametrize("bad", ["^1 || ^2", ">=1 | <0.5", "^x", "latest", ">=1,<"])
def test_a_constraint_pep_440_cannot_express_is_refused_with_the_constraint_named(bad: str) -> None:
    with pytest.raises(Untranslatable, match=r"constraint"):
        translate_constraint(bad)


def test_python_bounds_become_markers_on_python_version_or_the_full_version() -> None:
    assert python_marker("^3.8") == '(python_version >= "3.8" and python_version < "4.0")'
    assert python_marker(">=3.8.1,<4") == '(python_full_version >= "3.8.1" and python_version < "4")'
    assert python_marker("*") == ""


def test_git_and_url_entries_become_direct_references_and_a_path_is_refused() -> None:
    assert translate_entry("lib", {"git": "https://example.invalid/lib.git", "tag": "v1", "python": ">=3.9"}) == (
        'lib @ git+https://example.invalid/lib.git@v1 ; python_version >= "3.9"',
        "",
    )
    assert translate_entry("lib", {"url": "https://example.invalid/lib-1.0.tar.gz"})[0].endswith("lib-1.0.tar.gz")
    with pytest.raises(Untranslatable, match="local path"):
        translate_entry("lib", {"path": "../lib", "develop": True})
