"""Handoff's actors (generator, collector), the pipeline client, the broker plumbing and the CLI."""
