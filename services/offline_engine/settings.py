"""Which offline engines run and for how long per target: HANDOFF_OFFLINE_ENGINES, HANDOFF_OFFLINE_ENGINE_S."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from handoff.common.env import SettingsError, env_float, env_str

# engine -> the PyPI requirement installed into the project's environment (never into Handoff's). The minimum is the
# version the commands were written for: unbounded, a project pinning rich==15.0.0 (wcwidth 0.9.4; Pynguin 0.48 needs
# rich<15) got Pynguin 0.6.3 from the resolver, which crashed on import; now the build fails and says why
ENGINE_PACKAGES: dict[str, str] = {"crosshair": "crosshair-tool>=0.0.113", "pynguin": "pynguin>=0.48"}
# with a real model, these engines are installed too and the prompt offers them to the agent (Pynguin is not: it pins
# pytest < 9, which a project's own test requirements may contradict)
HYBRID_ENGINES = ("crosshair",)
HYBRID_HINT = (
    "CrossHair is installed in the project's environment: `python -m crosshair cover --example_output_format=pytest "
    "<module>` prints pytest tests, one per path it finds through the module's functions. You may use them to seed "
    "or extend your tests; check them like your own (they assert what the code does now)."
)


class OfflineEngineSettings(msgspec.Struct, kw_only=True, frozen=True):
    engines: tuple[str, ...] = ("crosshair", "pynguin")
    per_target_s: float = 60.0

    @property
    def label(self) -> str:
        """What every summary and progress line says instead of a model name."""
        return "offline engine: " + "+".join(self.engines)

    @property
    def round_writer(self) -> str:
        """What a round's progress line names in place of the model: the engines this replica runs."""
        return "+".join(self.engines) + ", no model"

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(ENGINE_PACKAGES[engine] for engine in self.engines)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OfflineEngineSettings:
        d = cls()
        raw = env_str("HANDOFF_OFFLINE_ENGINES", None, env)
        engines = d.engines
        if raw is not None:
            engines = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
            unknown = [e for e in engines if e not in ENGINE_PACKAGES]
            if unknown or not engines or len(set(engines)) != len(engines):
                raise SettingsError(
                    f"HANDOFF_OFFLINE_ENGINES must be a comma-separated list of {', '.join(ENGINE_PACKAGES)} "
                    f"without repeats, got {raw!r}"
                )
        return cls(engines=engines, per_target_s=env_float("HANDOFF_OFFLINE_ENGINE_S", d.per_target_s, env,
                                                           minimum=5.0))  # fmt: skip


def engine_conflict_hint(message: str, engines: tuple[str, ...]) -> str:
    """What to add to an environment failure that names one of the engines' packages ('' when none is named)."""
    named = [e for e in engines if re.split(r"[<>=!~ ]", ENGINE_PACKAGES[e], maxsplit=1)[0] in message.lower()]
    if not named:
        return ""
    others = [e for e in ENGINE_PACKAGES if e not in named]
    instead = f"; HANDOFF_OFFLINE_ENGINES={','.join(others)} runs without it" if others else ""
    return f" (the offline engine's {', '.join(named)} is installed with the project's requirements{instead})"
