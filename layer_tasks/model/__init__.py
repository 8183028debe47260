"""Plain data shared by build, aws and deploy: the manifest and layer ARNs."""
