"""`inv layer.update-config`: put layer ARNs into a Chalice stage (and a function).

Which ARNs (given, or the ARN file's), the checks before the first change (the
function exists), the edit, and `LayersChange` that renders what changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from layer_tasks.aws.functions import apply_function_layers, get_function
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.arns import parse_layer_arn
from layer_tasks.project import chalice_config
from layer_tasks.project.arn_file import read_arn


@dataclass(frozen=True)
class LayersChange:
    """One list of layers before and after an edit (a stage, a function)."""

    where: str
    before: tuple[str, ...]
    after: tuple[str, ...]

    def lines(self) -> list[str]:
        def listing(label: str, layers: Sequence[str]) -> list[str]:
            return [f"  {label}:" + ("" if layers else " (none)"), *(f"    {a}" for a in layers)]

        if self.before == self.after:
            return [f"{self.where}: unchanged", *listing("layers", self.after)]
        return [f"{self.where}:", *listing("before", self.before), *listing("after", self.after)]


def arns_to_use(settings: LayerSettings, given: Sequence[str]) -> list[str]:
    """The ARNs given, or else the one in the ARN file (which must be this layer's)."""
    if given:
        return list(given)
    from_file = read_arn(settings.arn_file)
    if from_file is None:
        raise LayerError(
            f"no --arn given and the ARN file {settings.arn_file} is missing or empty: "
            "run `inv layer.deploy` first, or pass --arn"
        )
    held = parse_layer_arn(from_file).name
    if held != settings.name:
        # Another project's ARN file (or a renamed layer): wiring it in silently would
        # point this app at someone else's dependencies.
        raise LayerError(
            f"the ARN file {settings.arn_file} holds a version of layer {held}, not "
            f"{settings.name} (layer.name): deploy this layer first, or pass --arn explicitly"
        )
    return [from_file]


def update_stage(
    settings: LayerSettings,
    arns: Sequence[str],
    *,
    region: str | None,
    create_stage: bool = False,
    lambda_client: LambdaClient | None = None,
) -> list[LayersChange]:
    """Set the stage's layers (and, with a client and ``settings.function``, the
    function's); what changed, stage first."""
    wiring = lambda_client if settings.function else None  # the function's, with both
    if wiring is not None:
        get_function(wiring, settings.function)  # fail before the config changes
    before, after = chalice_config.set_stage_layers(
        settings.chalice_config,
        settings.stage,
        arns,
        region=region,
        create_stage=create_stage,
        config_lock_dir=settings.state_dir,
    )
    changes = [
        LayersChange(
            f"{settings.chalice_config} stages.{settings.stage}.layers", tuple(before), tuple(after)
        )
    ]
    if wiring is not None:
        f_before, f_after = apply_function_layers(wiring, settings.function, after, region=region)
        changes.append(
            LayersChange(f"function {settings.function} layers", tuple(f_before), tuple(f_after))
        )
    return changes
