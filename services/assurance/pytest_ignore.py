"""pytest plugin (loaded with ``-p handoff_ignore``): the paths given with ``--ignore`` are never collected, even
when the project's conftest.py answers ``pytest_ignore_collect`` itself.

pytest stops at the first answer to that hook, and its own handling of ``--ignore`` comes after a conftest's: a
conftest that returns ``False`` for the files it does not skip (boltons 26.2.0's tests/conftest.py) makes pytest
collect an ``--ignore``d file anyway, and the generated tests would count as the project's own. This answers
first. Copied next to the checks' data, outside the tree under test; it needs pytest >= 7 (``collection_path``).
"""

import os
from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path, config):
    ignored = {Path(os.path.abspath(p)) for p in config.getoption("ignore") or []}
    return True if Path(collection_path) in ignored else None
