"""A sandbox per task: every process of the agent's terminal and of validation runs inside it (see docs/runner.md)."""

from handoff.sandbox.errors import SandboxError, SandboxUnavailable
from handoff.sandbox.hidden import secret_files
from handoff.sandbox.launch import Launch, Sandbox
from handoff.sandbox.limits import ResourceLimits
from handoff.sandbox.probe import probe
from handoff.sandbox.settings import SandboxMode, SandboxSettings
from handoff.sandbox.teardown import end_process_trees

__all__ = [
    "Launch",
    "ResourceLimits",
    "Sandbox",
    "SandboxError",
    "SandboxMode",
    "SandboxSettings",
    "SandboxUnavailable",
    "end_process_trees",
    "probe",
    "secret_files",
]
