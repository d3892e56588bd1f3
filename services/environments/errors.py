"""Why a project environment could not be prepared. The runner maps these onto task error codes once."""

from __future__ import annotations


class EnvironmentBuildError(Exception):
    """The project's environment could not be prepared. ``output`` is the tail of what the installer printed."""

    retryable = False

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output


class PythonNotFound(EnvironmentBuildError):
    """No interpreter of the requested Python version exists on this replica."""


class DependencyFileError(EnvironmentBuildError):
    """A dependency file of the project cannot be read (for example, pyproject.toml is not valid TOML)."""


class InstallFailed(EnvironmentBuildError):
    """The installer refused: an unknown package, versions that do not resolve, a build that failed."""


class IndexUnreachable(InstallFailed):
    """The package index could not be reached (network, DNS, timeout): another attempt later may succeed."""

    retryable = True
