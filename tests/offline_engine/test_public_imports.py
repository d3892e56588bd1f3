"""A name the package offers is imported from the package, as the project's own tests import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handoff.offline_engine.merge_tests import merge

# a package shaped like prettytable 3.19.0's: the names live in an inner module, __init__.py imports them
INIT = '''"""Tables."""

from .table import TableStyle, _deprecated, from_mediawiki, hidden, rebound

rebound = None

__all__ = ["TableStyle", "from_mediawiki", "rebound"]
'''
TABLE = """
class TableStyle:
    pass


def from_mediawiki(text):
    if not text.startswith("{|"):
        raise ValueError("No valid header found")
    return TableStyle()


def hidden():
    return 1


def rebound():
    return 2


def _deprecated():
    return 3
"""
OWN_TESTS = "from tablekit import TableStyle, from_mediawiki\n\n\ndef test_own():\n    assert from_mediawiki('{|')\n"
# as CrossHair 0.0.113 writes its tests of prettytable.prettytable
CROSSHAIR = """import pytest
from tablekit.table import from_mediawiki
from tablekit.table import TableStyle
from tablekit.table import hidden
from tablekit.table import rebound
from tablekit.table import _deprecated

def test_from_mediawiki():
    with pytest.raises(ValueError, match='No\\\\ valid\\\\ header\\\\ found'):
        from_mediawiki('')

def test_from_mediawiki_2():
    assert isinstance(from_mediawiki('{|'), TableStyle)

def test_hidden():
    assert hidden() + rebound() + _deprecated() == 6
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tablekit").mkdir()
    (tmp_path / "tablekit" / "__init__.py").write_text(INIT)
    (tmp_path / "tablekit" / "table.py").write_text(TABLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_names_the_package_offers_are_imported_from_it_and_the_merged_tests_pass(project: Path) -> None:
    """CrossHair imported `from_mediawiki` and `TableStyle` from the inner module of a package that offers both, in
    a file that imports them from the package: they were imported a second time, under aliases. Now the file's
    own imports serve; `hidden` (not in `__all__`), `rebound` (bound again) and `_deprecated` keep the inner
    module's import, and the tests are still named after what they call and pass under pytest."""
    text, _ = merge("tablekit.table", [("crosshair", CROSSHAIR)], OWN_TESTS)

    assert text.startswith(
        "from tablekit import TableStyle, from_mediawiki\n"
        "import pytest\nfrom tablekit.table import _deprecated, hidden, rebound\n\n\ndef test_own():"
    )
    assert "test_from_mediawiki_1():\n    with" in text and "test_from_mediawiki_2():\n    assert" in text
    (project / "tests").mkdir()
    (project / "tests" / "test_table.py").write_text(text)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_table.py"],
        cwd=project, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0 and "4 passed" in run.stdout, run.stdout + run.stderr
