"""``handoff demo``: the whole path on one machine, on a shipped sample project."""
