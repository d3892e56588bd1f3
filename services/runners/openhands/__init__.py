"""The OpenHands runner: real agents write, run and validate unit tests in isolated task workspaces.

Importing this package is cheap; the agent SDK is imported on the first task (once per process).
"""

from handoff.runners.openhands.runner import OpenHandsTestRunner
from handoff.runners.openhands.settings import LlmSettings, RunnerSettings

__all__ = ["LlmSettings", "OpenHandsTestRunner", "RunnerSettings"]
