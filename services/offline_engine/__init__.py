"""The offline engine: real test generators (CrossHair, Pynguin) driven through the agent when no LLM is configured.

A scripted policy (``policy.py``) makes the real OpenHands agent run the engines in its sandboxed terminal, with
the project's own interpreter, one target at a time (``commands.py``); their pytest modules are merged into the
test file the prompt names (``merge_tests.py``). The runner's validation and filters decide what is kept.
"""

from handoff.offline_engine.settings import ENGINE_PACKAGES, OfflineEngineSettings

__all__ = ["ENGINE_PACKAGES", "OfflineEngineSettings"]
