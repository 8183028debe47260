"""Small helpers with no knowledge of layers: crash-safe files, globs, bounded reads, redaction, progress."""
