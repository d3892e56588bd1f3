"""What can go wrong with the sandbox, in words that name the fix."""

from __future__ import annotations


class SandboxError(Exception):
    """The sandbox cannot be used as configured."""


class SandboxUnavailable(SandboxError):
    """The configured sandbox cannot start on this machine (missing binary, no user namespaces, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the task sandbox (bubblewrap) cannot start: {reason}. Fix: install it (`apt-get install bubblewrap`); "
            "in a container allow unprivileged user namespaces (Kubernetes: see deploy/README.md, securityContext); "
            "or set HANDOFF_SANDBOX=none to run agents UNSANDBOXED (trusted code only)"
        )
        self.reason = reason
