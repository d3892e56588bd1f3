"""Content-addressed source snapshots and task artifacts in JetStream object stores."""
