"""Ordered consumers that always carry their own fresh name in the request subject.

The deploy/ permissions let pipelines create consumers on the events stream only through the named subject
``$JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter>]``: there the server takes the consumer's name from the
subject (a name in the request body is overwritten), so a permission that denies the names of the durables
(``generators``, ``collector``) is enough to keep a pipeline from updating them. The unnamed subject takes the
name from the body, where permissions cannot see it, and is not granted.

nats-py re-creates an ordered consumer after a gap (a server restart, a missed heartbeat) with the configuration
it was first created with; a fixed name would then collide with the consumer it replaces. ``FreshlyNamed`` hands
nats-py a configuration whose every copy (nats-py copies it with ``evolve`` before each create) gets a new name.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from nats.js.api import ConsumerConfig

NAME_PREFIX = "watch"


def fresh_name() -> str:
    return f"{NAME_PREFIX}-{uuid.uuid4().hex}"


@dataclasses.dataclass
class FreshlyNamed(ConsumerConfig):
    """A ``ConsumerConfig`` that names each consumer created from it anew."""

    def evolve(self, **params: Any) -> FreshlyNamed:
        return dataclasses.replace(self, **{"name": fresh_name(), **params})


def ordered_config(filters: list[str]) -> FreshlyNamed:
    """The configuration of an ordered consumer over ``filters`` (nats-py fills in the ordered settings)."""
    return FreshlyNamed(name=fresh_name(), filter_subjects=filters if len(filters) > 1 else None)
