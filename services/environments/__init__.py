"""Project environments: a cached virtualenv per set of project dependencies, in which a task's tests run."""

from handoff.environments.build_outputs import BuildOutputs, restore_build_outputs
from handoff.environments.environments import ProjectEnv, ProjectEnvironments, environment_key
from handoff.environments.errors import (
    DependencyFileError,
    EnvironmentBuildError,
    IndexUnreachable,
    InstallFailed,
    PythonNotFound,
)
from handoff.environments.optional import Fitted, OptionalPackage
from handoff.environments.project_metadata import ProjectMetadata, site_packages, write_project_metadata
from handoff.environments.settings import EnvSettings

__all__ = [
    "BuildOutputs",
    "DependencyFileError",
    "EnvSettings",
    "EnvironmentBuildError",
    "Fitted",
    "IndexUnreachable",
    "InstallFailed",
    "OptionalPackage",
    "ProjectEnv",
    "ProjectEnvironments",
    "ProjectMetadata",
    "PythonNotFound",
    "environment_key",
    "restore_build_outputs",
    "site_packages",
    "write_project_metadata",
]
