"""Scenario files: a small school described exactly, served by the emulator, judged by expectations.

``load`` reads and validates a file (merged onto the default school), ``build`` compiles it into the emulator's
school and journal. The format: docs/scenarios.md.
"""

from adapters.emulator.scenario.build import Built, build, lesson_key, normalize_group
from adapters.emulator.scenario.load import ScenarioError, load, parse
from adapters.emulator.scenario.model import Expect, Scenario

__all__ = ["Built", "Expect", "Scenario", "ScenarioError", "build", "lesson_key", "load", "normalize_group", "parse"]
