"""The spec-to-production pipeline runner: stages from a TOML file, test generation fanned out to Handoff."""
