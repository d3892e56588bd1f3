"""``handoff demo``: the whole path on one machine, on a shipped sample project and a real-world module."""
