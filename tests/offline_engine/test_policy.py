"""What the offline engine's script says when it finishes a round (pure: no engine, no server)."""

from __future__ import annotations

from handoff.offline_engine import OfflineEngineSettings
from handoff.offline_engine.installed import engines_line
from handoff.offline_engine.policy import OfflineEnginePolicy
from handoff.runners.openhands.prompt import TARGETS_HEADER, WORKSPACE_LABEL
from handoff.scripted_model.replies import ChatRequest

PROMPT = f"{WORKSPACE_LABEL} /w\n{TARGETS_HEADER}\n- slugify/slugify.py -> tests/test_slugify.py\n"
ENGINES_SAID = (
    "offline engine: crosshair on slugify.slugify (limit 60 s)\n"
    "offline engine: crosshair failed on the module (exit 1): TypeError: Literal; trying function by function\n"
    "offline engine: crosshair failed on slugify.slugify.slugify\n"
    "offline engine: pynguin timed out after 60 s\n"
    "offline engine: no engine produced a test for slugify.slugify; tests/test_slugify.py not written\n"
)


def _request(rounds: int) -> ChatRequest:
    """The conversation after the engine command, pytest, and ``rounds - 1`` finished rounds."""
    messages: list[dict[str, object]] = [{"role": "user", "content": PROMPT}]
    messages += [{"role": "assistant", "content": ""}, {"role": "tool", "content": ENGINES_SAID}]
    messages += [{"role": "assistant", "content": ""}, {"role": "tool", "content": "no tests ran"}]
    for _ in range(rounds - 1):
        messages += [{"role": "assistant", "content": "finished"}, {"role": "user", "content": "round feedback"}]
    return ChatRequest(model="offline", messages=messages)


def test_every_round_ends_with_what_the_engines_reported_including_the_function_by_function_lines() -> None:
    """A later round's finish repeats the engines' lines (a task failing after three rounds said only 'the engines
    already ran'), and CrossHair's function-by-function lines are kept; only the per-engine header lines go."""
    policy = OfflineEnginePolicy(OfflineEngineSettings())
    for rounds in (1, 2):
        message = policy(_request(rounds)).arguments["message"]  # type: ignore[union-attr]
        assert "crosshair failed on the module (exit 1)" in message, message
        assert "crosshair failed on slugify.slugify.slugify" in message, message
        assert "pynguin timed out after 60 s" in message and "(limit 60 s)" not in message, message


def test_the_engines_command_runs_the_engines_the_prompt_names_as_installed_else_the_configured_ones() -> None:
    """One policy serves every task of a replica; a task whose environment left Pynguin out says so in its prompt,
    and that task's command runs CrossHair alone while another task's runs both."""
    policy = OfflineEnginePolicy(OfflineEngineSettings())
    narrowed = ChatRequest(
        model="offline", messages=[{"role": "user", "content": PROMPT + engines_line(["crosshair"])}]
    )
    configured = ChatRequest(model="offline", messages=[{"role": "user", "content": PROMPT}])

    command = policy(narrowed).arguments["command"]  # type: ignore[union-attr]
    assert "crosshair cover" in command and "pynguin" not in command, command
    command = policy(configured).arguments["command"]  # type: ignore[union-attr]
    assert "crosshair cover" in command and "python -m pynguin" in command, command
