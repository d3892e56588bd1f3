"""The generator service: consumes submit events and runs tasks with bounded concurrency. See docs/generator.md."""

from handoff.generator.actor import Generator
from handoff.generator.errors import GeneratorError
from handoff.generator.settings import GeneratorSettings
from handoff.generator.stats import GeneratorStats

__all__ = ["Generator", "GeneratorError", "GeneratorSettings", "GeneratorStats"]
