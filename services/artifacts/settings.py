"""Size limits for snapshots and artifacts, read from ``HANDOFF_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from handoff.common.env import env_int

MIB = 1024 * 1024
TAR_OVERHEAD_PER_ENTRY = 8 * 512  # header, a PAX header and its data for a long name, padding
TAR_TRAILER_BYTES = 20 * 512  # end-of-archive blocks and the record padding


class SnapshotLimits(msgspec.Struct, kw_only=True, frozen=True):
    max_file_bytes: int = 5 * MIB
    max_total_bytes: int = 100 * MIB
    max_files: int = 20_000  # files and directories

    @property
    def max_object_bytes(self) -> int:
        """The largest tarball these limits can produce: the contents plus a generous allowance per entry for
        headers (512 bytes, a PAX header for long names) and padding. A stored object larger than this is
        refused from its object-store metadata, before a byte of it is downloaded."""
        return self.max_total_bytes + self.max_files * TAR_OVERHEAD_PER_ENTRY + TAR_TRAILER_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SnapshotLimits:
        d = cls()
        return cls(
            max_file_bytes=env_int("HANDOFF_SNAPSHOT_MAX_FILE_BYTES", d.max_file_bytes, env, minimum=1),
            max_total_bytes=env_int("HANDOFF_SNAPSHOT_MAX_BYTES", d.max_total_bytes, env, minimum=1),
            max_files=env_int("HANDOFF_SNAPSHOT_MAX_FILES", d.max_files, env, minimum=1),
        )


def artifact_max_bytes_from_env(env: Mapping[str, str] | None = None) -> int:
    return env_int("HANDOFF_ARTIFACT_MAX_BYTES", 20 * MIB, env, minimum=1)
