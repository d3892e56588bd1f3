"""A sandbox per task: every process of the agent's terminal and of validation runs inside it (see docs/runner.md)."""

from services.sandbox.errors import SandboxError, SandboxUnavailable
from services.sandbox.hidden import secret_files
from services.sandbox.launch import Launch, Sandbox
from services.sandbox.probe import probe
from services.sandbox.settings import SandboxMode, SandboxSettings
from services.sandbox.teardown import end_process_trees

__all__ = [
    "Launch",
    "Sandbox",
    "SandboxError",
    "SandboxMode",
    "SandboxSettings",
    "SandboxUnavailable",
    "end_process_trees",
    "probe",
    "secret_files",
]
