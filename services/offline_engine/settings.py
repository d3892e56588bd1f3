"""Which offline engines run and for how long per target: HANDOFF_OFFLINE_ENGINES, HANDOFF_OFFLINE_ENGINE_S."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from handoff.common.env import SettingsError, env_float, env_str

# engine -> the PyPI requirement installed into the project's environment (never into Handoff's)
ENGINE_PACKAGES: dict[str, str] = {"crosshair": "crosshair-tool", "pynguin": "pynguin"}
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
