"""Where project environments are cached, how large the cache may grow, and which package index they come from.

The index settings default to pip's configuration of the machine (see ``index.py``); set them to override it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
import platformdirs

from handoff.common.env import env_float, env_int, env_list, env_str

GIB = 1024**3


class EnvSettings(msgspec.Struct, kw_only=True, frozen=True):
    cache_dir: Path | None = None
    cache_max_bytes: int = 5 * GIB
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] | None = None
    find_links: tuple[str, ...] | None = None
    build_timeout_s: float = 900.0
    uv: str | None = None
    max_output_chars: int = 4_000

    @property
    def cache_root(self) -> Path:
        """``HANDOFF_ENV_CACHE_DIR``, else ``<HANDOFF_DATA_DIR>/environments``, else the user cache folder."""
        if self.cache_dir is not None:
            return self.cache_dir
        data_dir = os.environ.get("HANDOFF_DATA_DIR", "").strip()
        base = Path(data_dir) if data_dir else Path(platformdirs.user_cache_dir("handoff"))
        return base / "environments"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EnvSettings:
        d = cls()
        cache_dir = env_str("HANDOFF_ENV_CACHE_DIR", None, env)
        extra = env_list("HANDOFF_ENV_EXTRA_INDEX_URLS", (), env)
        links = env_list("HANDOFF_ENV_FIND_LINKS", (), env)
        return cls(
            cache_dir=Path(cache_dir) if cache_dir else None,
            cache_max_bytes=env_int("HANDOFF_ENV_CACHE_MAX_BYTES", d.cache_max_bytes, env, minimum=0),
            index_url=env_str("HANDOFF_ENV_INDEX_URL", None, env),
            extra_index_urls=extra or None,
            find_links=links or None,
            build_timeout_s=env_float("HANDOFF_ENV_BUILD_TIMEOUT_S", d.build_timeout_s, env, minimum=1.0),
            uv=env_str("HANDOFF_ENV_UV", None, env),
        )
