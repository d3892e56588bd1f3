"""A tiny package the runner tests ask an agent to write tests for."""
