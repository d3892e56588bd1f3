"""The project's own tests in a test file the generator extended, as pytest collects them from the snapshot's version.

Reading the file's source finds the test functions and the methods written in its test classes, not the methods
a ``unittest.TestCase`` inherits from a mixin (cachetools 8.0.2: ``CacheTestMixin`` in ``tests/__init__.py`` gives
``tests/test_cache.py::CacheTest`` its tests; ``DecoratorTestMixin`` in ``tests/test_func.py`` those of four
classes there). Those tests were then neither in the baseline nor judged, and the baseline missed what they cover.
pytest is asked instead: the snapshot's version is put in the file's place, collected, and the extended version put
back.
"""

from __future__ import annotations

from pathlib import Path

from handoff.assurance.errors import CommandTimedOut
from handoff.assurance.testbed import TestBed


async def collected_tests(bed: TestBed, name: str, original: bytes) -> list[str] | None:
    """pytest's node ids (parameters cut, each once, in collection order) of the tests in ``original``, the
    snapshot's version of ``name`` (relative to ``bed.root``); None when that version does not collect in time (the
    caller falls back to what the source shows). ``name`` holds its current bytes again afterwards."""
    path = bed.root / name
    current = path.read_bytes()
    path.write_bytes(original)
    try:
        run = await bed.pytest(["--collect-only", name], name="collect-project-tests")
    except CommandTimedOut:
        return None
    finally:
        path.write_bytes(current)
    if run.exit_code not in (0, 5) or run.collection_errors:
        return None
    found: dict[str, None] = {}
    prefix = Path(name).as_posix() + "::"
    for line in run.output.splitlines():
        node = line.strip()
        if node.startswith(prefix):
            found[node.split("[", 1)[0]] = None
    return list(found)
