"""SSM Parameter Store: each region's parameter holding the layer version's ARN.

The Powertools layer pipeline's practice: a function's stack reads the layer's ARN from
a parameter of its own region (``/layers/{name}/{python}/{arch}``) instead of pinning
it, so a new version reaches it by the parameter alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layer_tasks.aws.errors import NotFound, boundary

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


def read_parameter(ssm: SSMClient, name: str) -> str | None:
    """The parameter's value, or None when it does not exist yet."""
    try:
        with boundary(f"SSM parameter {name}"):
            return ssm.get_parameter(Name=name)["Parameter"].get("Value")
    except NotFound:
        return None


def write_parameter(ssm: SSMClient, name: str, arn: str) -> None:
    """Create or overwrite the parameter with ``arn`` (a plain String: an ARN is no secret)."""
    with boundary(f"SSM parameter {name}"):
        ssm.put_parameter(
            Name=name,
            Value=arn,
            Type="String",
            Overwrite=True,
            Description="Lambda layer version ARN, written by layer-tasks",
        )
