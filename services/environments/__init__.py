"""Project environments: a cached virtualenv per set of project dependencies, in which a task's tests run."""

from services.environments.environments import ProjectEnv, ProjectEnvironments, environment_key
from services.environments.errors import (
    DependencyFileError,
    EnvironmentBuildError,
    IndexUnreachable,
    InstallFailed,
    PythonNotFound,
)
from services.environments.installer import Wrap
from services.environments.settings import EnvSettings

__all__ = [
    "DependencyFileError",
    "EnvSettings",
    "EnvironmentBuildError",
    "IndexUnreachable",
    "InstallFailed",
    "ProjectEnv",
    "ProjectEnvironments",
    "PythonNotFound",
    "Wrap",
    "environment_key",
]
