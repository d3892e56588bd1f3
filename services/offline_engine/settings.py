"""Which offline engines run and for how long per target: HANDOFF_OFFLINE_ENGINES, HANDOFF_OFFLINE_ENGINE_S."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from handoff.common.env import SettingsError, env_float, env_str

# engine -> the PyPI requirement installed into the project's environment (never into Handoff's). The minimum is the
# version the commands were written for: unbounded, a project pinning rich==15.0.0 (wcwidth 0.9.4; Pynguin 0.48 needs
# rich<15) got Pynguin 0.6.3 from the resolver, which crashed on import; now the build fails and says why
ENGINE_PACKAGES: dict[str, str] = {"crosshair": "crosshair-tool>=0.0.113", "pynguin": "pynguin>=0.48"}
ENGINE_NAMES: dict[str, str] = {"crosshair": "CrossHair", "pynguin": "Pynguin"}
# The engines are optional packages of the project's environment (environments/optional.py): one that does not
# resolve with the project's requirements is left out and the others run. Before that, the project's own requirement
# replaces the engine's pin on these packages: Pynguin 0.48 declares pytest>=8.3.5,<9, and with pytest 9.2 its search,
# its assertion generation by mutation analysis, its minimisation and its export ran, and the tests it wrote pass
# under pytest 9.2 (tests/offline_engine/test_engines.py). A conflict over anything else (wcwidth 0.9.4's
# rich==15.0.0 against Pynguin's rich<15) leaves the engine out.
ENGINE_OVERRIDABLE: dict[str, tuple[str, ...]] = {"pynguin": ("pytest",)}
# with a real model, these engines are installed too (as optional packages) and the prompt offers them to the agent
# (Pynguin is not: it pins pytest < 9, which a project's own test requirements may contradict)
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
