"""Facts of the Lambda platform a layer is built for: runtimes, architectures, limits.

Not settings: what Lambda is, not what the user chooses. Each is defined here once.
"""

from __future__ import annotations

# Lambda's "MB" are MiB, and so is `budget_mb`: 250 -> 262,144,000 bytes.
MiB = 1024 * 1024

# Lambda's Python runtimes and the glibc of the Amazon Linux each runs on.
# python3.10/3.11: Amazon Linux 2 (glibc 2.26); python3.12+: Amazon Linux 2023 (glibc 2.34).
PYTHON_GLIBC: dict[str, tuple[int, int]] = {
    "3.10": (2, 26),
    "3.11": (2, 26),
    "3.12": (2, 34),
    "3.13": (2, 34),
    "3.14": (2, 34),
}
ARCHITECTURES = ("x86_64", "arm64")

# Lambda limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
UNZIPPED_LIMIT_BYTES = 250 * MiB  # function + all layers, unzipped ("250 MB")
DIRECT_UPLOAD_LIMIT_BYTES = 50 * MiB  # zipped, direct upload ("50 MB"); larger goes via S3
MAX_LAYERS_PER_FUNCTION = 5


def lambda_runtime(python: str) -> str:
    """The Lambda runtime identifier of a Python version: ``3.12`` -> ``python3.12``."""
    return f"python{python}"
