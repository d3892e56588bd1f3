"""A project conftest that breaks pytest's collection the way docopt 0.6.2's does: it builds a node for a data file
directly (``CasesFile(file_path, parent)``), which pytest >= 6 refuses, failing the collection of the conftest's
folder and with it every run of a test file there."""

BROKEN_CONFTEST = """import pytest


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".cases":
        return CasesFile(file_path, parent)  # pytest >= 6 refuses this: from_parent


class CasesFile(pytest.File):
    def collect(self):
        return []
"""
