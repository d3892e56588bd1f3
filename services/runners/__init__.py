"""What a generator replica runs for each task kind: the runner interface and its implementations."""
