"""The package index comes from pip's configuration unless settings override it."""

from __future__ import annotations

from handoff.environments.index import IndexConfig, index_config, parse_pip_config, read_pip_config
from handoff.environments.settings import EnvSettings

PIP_LIST = """global.extra-index-url='file:///a/simple file:///b/simple'
global.find-links='/opt/global-wheels'
global.constraint='/etc/c.txt'
install.find-links='/opt/install-wheels'
:env:.find-links='/opt/env-wheels'
:env:.default-timeout='180'
"""


def test_pip_config_lines_are_merged_with_variables_over_install_over_global() -> None:
    """PIP_* variables win over [install], which wins over [global], as in pip."""
    parsed = parse_pip_config(PIP_LIST)
    assert parsed["find-links"] == "/opt/env-wheels"
    assert parsed["extra-index-url"] == "file:///a/simple file:///b/simple"
    assert parsed["constraint"] == "/etc/c.txt"


def test_settings_override_pip_item_by_item_and_become_uv_options() -> None:
    """An explicit extra index replaces pip's; find-links and constraints still come from pip."""
    settings = EnvSettings(extra_index_urls=("https://mirror.invalid/simple",))
    config = index_config(settings, parse_pip_config(PIP_LIST))
    assert config.extra_index_urls == ("https://mirror.invalid/simple",)
    assert config.uv_options() == [
        "--index-strategy", "unsafe-best-match",
        "--extra-index-url", "https://mirror.invalid/simple",
        "--find-links", "/opt/env-wheels",
        "--constraint", "/etc/c.txt",
    ]  # fmt: skip


def test_the_machines_pip_config_is_read_through_pip() -> None:
    """read_pip_config asks the real pip; its answer round-trips through the same parser (may be empty)."""
    config = read_pip_config()
    assert all(isinstance(key, str) and "." not in key for key in config)


def test_the_index_settings_become_uv_variables_without_repeats() -> None:
    """Indexes space-separated, wheel folders comma-separated, each once; pip's strategy of trying every index."""
    config = IndexConfig(index_url="https://i", extra_index_urls=("a", "b", "a"), find_links=("/w", "/w"))
    assert config.uv_environment() == {
        "UV_INDEX_STRATEGY": "unsafe-best-match",
        "UV_INDEX_URL": "https://i",
        "UV_EXTRA_INDEX_URL": "a b",
        "UV_FIND_LINKS": "/w",
    }
