"""What the tool shows: sizes, diffs, versions, the HTML page, the CI summary."""
