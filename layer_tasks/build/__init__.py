"""The local pipeline: requirements, lock, install, prune, ELF check, verify, bytecode, zip, manifest, SBOM."""
