"""The whole stack on one machine: ``handoff up`` supervises nats-server, a collector and generator replicas."""
