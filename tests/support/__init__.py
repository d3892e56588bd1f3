"""Test helpers: a real nats-server per test, event waiting without sleeps."""
