"""The user's project files: the Chalice config and the ARN file."""
