"""Assured tests: judge each generated test (collects, passes, passes reliably, adds line or branch coverage),
measure coverage as a delta over the project's existing tests, and score the kept tests against mutants.

Every module here takes the directory of the tree to run in (a clean copy), the project's Python interpreter and
an ``Exec`` (how a command runs: a plain subprocess by default, a sandbox later), bundled as a ``TestBed``.
"""
