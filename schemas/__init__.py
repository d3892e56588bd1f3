"""Handoff's wire contract: events, names, topology. Import from the submodules."""
