"""What can go wrong moving source trees and artifacts through the object stores."""

from __future__ import annotations


class ArtifactError(Exception):
    """Base of snapshot and artifact errors."""


class SnapshotRefused(ArtifactError):
    """A source tree cannot be snapshotted as it is: a link escaping the tree, a file over the size limit …"""


class SnapshotMissing(ArtifactError):
    """The snapshot a task references is not in the object store (never uploaded, or expired)."""


class SnapshotCorrupt(ArtifactError):
    """A downloaded snapshot does not match its digest, or holds a member that may not be extracted."""


class ArtifactTooLarge(ArtifactError):
    """An artifact exceeds the configured size limit."""


class ArtifactMissing(ArtifactError):
    """An artifact reference points at an object that is not in the store."""


class ArtifactCorrupt(ArtifactError):
    """A downloaded artifact does not match its recorded size or sha256."""


class BucketMissing(ArtifactError):
    """The object-store bucket does not exist: the topology has not been applied."""
