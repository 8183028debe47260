"""Wire layers straight into a Lambda function (for apps not deployed by Chalice).

The client is passed in. A function's other layers are kept in their order; only a
version of the same layer is swapped (`arns.replace_layer_versions`). Lambda applies a
configuration change asynchronously, so `apply_function_layers` waits until the
function reports ``LastUpdateStatus: Successful`` before returning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import WaiterError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from layer_tasks.aws.errors import AccessDenied, AwsError, NotFound, boundary
from layer_tasks.aws.lambda_ import parse_description
from layer_tasks.errors import LayerError
from layer_tasks.model.arns import replace_layer_versions, validate_layer_list

# How long to wait for an update: Lambda usually takes seconds; VPC functions longer.
WAIT_DELAY_SECONDS = 2
WAIT_MAX_ATTEMPTS = 150


@dataclass(frozen=True)
class FunctionLayer:
    arn: str
    code_size: int | None  # zipped, as Lambda reports it
    unzipped_bytes: int | None = None  # only for layers whose Description carries it


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    code_size: int
    layers: tuple[FunctionLayer, ...]
    last_update_status: str | None


def get_function(client: LambdaClient, function: str) -> FunctionInfo:
    """The function's own code size and its layers; a missing function is a `LayerError`."""
    try:
        with boundary(f"function {function}"):
            config = client.get_function_configuration(FunctionName=function)
    except NotFound as exc:
        raise exc.reworded(
            f"Lambda function {function!r} not found in this account/region: check "
            "--function / layer.function and the region"
        ) from None
    layers = tuple(
        FunctionLayer(arn=str(item["Arn"]), code_size=item.get("CodeSize"))
        for item in config.get("Layers", [])
    )
    return FunctionInfo(
        name=str(config.get("FunctionName", function)),
        code_size=int(config.get("CodeSize", 0)),
        layers=layers,
        last_update_status=config.get("LastUpdateStatus"),
    )


def get_function_layers(
    client: LambdaClient, function: str, *, unzipped: bool = True
) -> list[FunctionLayer]:
    """The function's layers in order, with zipped sizes and, where a layer's Description
    says (layers published by this tool), unzipped sizes - what the 250 MB limit counts."""
    layers = list(get_function(client, function).layers)
    if not unzipped:
        return layers
    result = []
    for layer in layers:
        size = None
        head, _, version = layer.arn.rpartition(":")
        try:
            # LayerName takes an ARN, so layers of other accounts work when shared with us.
            with boundary(layer.arn):
                detail = client.get_layer_version(LayerName=head, VersionNumber=int(version))
            size = parse_description(str(detail.get("Description", "")))[1]
        except (NotFound, AccessDenied, ValueError):
            pass  # not readable (another account's, deleted): size unknown, not an error
        result.append(FunctionLayer(layer.arn, layer.code_size, size))
    return result


def wait_until_updated(client: LambdaClient, function: str) -> None:
    """Block until the function's last configuration update has finished."""
    waiter = client.get_waiter("function_updated_v2")
    try:
        waiter.wait(
            FunctionName=function,
            WaiterConfig={"Delay": WAIT_DELAY_SECONDS, "MaxAttempts": WAIT_MAX_ATTEMPTS},
        )
    except WaiterError as exc:
        last: dict[str, Any] = dict(exc.last_response or {})
        config = last.get("Configuration", {})
        status = config.get("LastUpdateStatus", "unknown")
        reason = config.get("LastUpdateStatusReason") or last.get("Error", {}).get("Message", "")
        raise LayerError(
            f"the update of function {function} did not finish (LastUpdateStatus {status}"
            f"{': ' + reason if reason else ''}); check it in the Lambda console"
        ) from None


def apply_function_layers(
    client: LambdaClient, function: str, arns: Sequence[str], *, region: str | None = None
) -> tuple[list[str], list[str]]:
    """Put ``arns`` into the function's layers (replacing other versions of the same
    layers, keeping the rest) and wait for the update. Returns (before, after)."""
    validate_layer_list(arns, region=region, source="layer ARN for the function")
    info = get_function(client, function)
    if info.last_update_status == "InProgress":
        # A second update while one is running fails with ResourceConflictException.
        wait_until_updated(client, function)
    before = [layer.arn for layer in info.layers]
    after = replace_layer_versions(before, arns)
    if after == before:
        return before, after
    try:
        with boundary(f"function {function}"):
            client.update_function_configuration(FunctionName=function, Layers=after)
    except AccessDenied:
        raise  # its message names the IAM fix
    except AwsError as exc:
        # e.g. "Layers consume more than the available size of 262144000 bytes"
        raise exc.reworded(
            f"updating the layers of function {function} failed ({exc.detail}); "
            "its configuration was left as it was"
        ) from None
    wait_until_updated(client, function)
    return before, after
