"""Everything between Handoff and NATS: the embedded server, connections, topology provisioning."""
