"""pytest plugin (loaded with ``-p handoff_ignore``): the paths given with ``--ignore`` are never collected, even
when the project's conftest.py answers ``pytest_ignore_collect`` itself; and when the command line names test
files or node ids, nothing else in their folders is collected.

pytest stops at the first answer to that hook, and its own handling of ``--ignore`` comes after a conftest's: a
conftest that returns ``False`` for the files it does not skip (boltons 26.2.0's tests/conftest.py) makes pytest
collect an ``--ignore``d file anyway, and the generated tests would count as the project's own. This answers
first.

pytest >= 8 collects a named file's folder (and the folders above it) whole before it picks the file: a conftest
``pytest_collect_file`` that raises on another file there (docopt 0.6.2's ``DocoptTestFile(path, parent)`` for
``testcases.docopt``, refused since pytest 6) fails that folder, and with it every run of the named file. Files and
folders that are neither named, nor under a named one, nor on the way to one are not collected: pytest would not
select their tests anyway (``__init__.py`` and ``conftest.py`` stay). Copied next to the checks' data, outside the
tree under test; it needs pytest >= 7 (``collection_path``).
"""

import os
from pathlib import Path

import pytest

_named: dict[int, list[Path]] = {}
_KEPT = ("__init__.py", "conftest.py")  # pytest 7 builds a package's node from its __init__.py


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path, config):
    path = Path(collection_path)
    if path in {Path(os.path.abspath(p)) for p in config.getoption("ignore") or []}:
        return True
    named = _named_paths(config)
    if named and path.name not in _KEPT and not any(path == n or n in path.parents or path in n.parents for n in named):
        return True
    return None


def _named_paths(config):
    """The existing paths the command line names (a node id's file), absolute; none when it names none, or names
    something that is not a path (``--pyargs`` modules): then nothing more is left out."""
    if id(config) not in _named:
        source = getattr(getattr(config, "args_source", None), "name", "")
        base = config.invocation_params.dir
        paths = [Path(os.path.abspath(base / arg.split("::", 1)[0])) for arg in config.args]
        exists = source == "ARGS" and paths and all(p.exists() for p in paths)
        _named[id(config)] = paths if exists else []
    return _named[id(config)]
