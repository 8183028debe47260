"""One module per AWS service; clients are created by `session` and passed in."""
