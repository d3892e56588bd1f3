"""Word frequencies of short texts."""
