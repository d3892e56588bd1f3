"""Metrics, health endpoints and trace-context propagation shared by the services."""
