"""Typed reads of environment variables with errors that name the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping


class SettingsError(ValueError):
    """An environment variable holds a value Handoff cannot use."""


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    value = _raw(os.environ if env is None else env, name)
    return default if value is None else value


def env_int(
    name: str,
    default: int,
    env: Mapping[str, str] | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = _raw(os.environ if env is None else env, name)
    if value is None:
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and parsed < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {parsed}")
    if maximum is not None and parsed > maximum:
        raise SettingsError(f"{name} must be <= {maximum}, got {parsed}")
    return parsed


def env_float(
    name: str, default: float, env: Mapping[str, str] | None = None, *, minimum: float | None = None
) -> float:
    value = _raw(os.environ if env is None else env, name)
    if value is None:
        return default
    try:
        parsed = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {value!r}") from None
    if minimum is not None and parsed < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {parsed}")
    return parsed


def env_bool(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    value = _raw(os.environ if env is None else env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean (true/false), got {value!r}")


def env_list(name: str, default: tuple[str, ...], env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    value = _raw(os.environ if env is None else env, name)
    if value is None:
        return default
    return tuple(item.strip() for item in value.split(",") if item.strip())


def env_floats(name: str, default: tuple[float, ...], env: Mapping[str, str] | None = None) -> tuple[float, ...]:
    items = env_list(name, (), env)
    if not items:
        return default
    try:
        return tuple(float(item) for item in items)
    except ValueError:
        raise SettingsError(f"{name} must be a comma-separated list of numbers, got {','.join(items)!r}") from None
