"""The generator service: consumes submit events and runs tasks with bounded concurrency. See docs/generator.md."""

from services.generator.actor import Generator
from services.generator.errors import GeneratorError
from services.generator.settings import GeneratorSettings
from services.generator.stats import GeneratorStats

__all__ = ["Generator", "GeneratorError", "GeneratorSettings", "GeneratorStats"]
