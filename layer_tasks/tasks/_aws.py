"""Shared by the AWS task modules: settings + clients for AWS or the local sandbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from layer_tasks.aws.session import Clients, make_clients, make_session
from layer_tasks.config.settings import LayerSettings
from layer_tasks.local import sandbox
from layer_tasks.model.arns import check_function_target, check_kms_key


def open_aws(
    settings: LayerSettings, local: bool, *, every_target: bool = False, read_only: bool = False
) -> tuple[LayerSettings, Clients]:
    """Clients for this run. With ``local``: the sandbox (started if needed), its
    throwaway credentials, and settings whose ARN file/Chalice config are sandbox copies.

    The settings returned are the home region's (``{region}`` in the bucket filled in)
    and, unless ``every_target`` (deploy, publish), those of the one layer the stage
    uses (``stage_architecture``): the tasks that read or change one layer work on it.
    ``read_only``: the task changes nothing (it gives up sooner on a silent endpoint)."""
    settings, clients = _open(settings, local, read_only)
    # Before any change: the ARNs the settings name must fit the target.
    if settings.function:
        check_function_target(settings.function, region=clients.region, account=clients.account)
    if settings.kms_key_id:
        check_kms_key(settings.kms_key_id, regions=settings.regions or (clients.region,))
    if not every_target:
        settings = settings.stage_layer()
    return settings.for_region(clients.region), clients


def region_clients(
    settings: LayerSettings, local: bool, read_only: bool = False
) -> Callable[[str], Clients]:
    """Clients for any other region of a deploy, made the same way as the home one's."""
    return lambda region: _open(replace(settings, region=region), local, read_only)[1]


def _chain_region(settings: LayerSettings) -> str:
    """The region boto3's chain names (AWS_REGION, AWS_DEFAULT_REGION, the profile), for
    a sandbox that should look like the real deploy; "" when it names none."""
    if settings.region:
        return settings.region
    return str(make_session(settings).region_name or "")


def _open(
    settings: LayerSettings, local: bool, read_only: bool = False
) -> tuple[LayerSettings, Clients]:
    if not local:
        return settings, make_clients(settings, read_only=read_only)
    box, started = sandbox.up(settings.state_dir)
    if started:
        print(f"local sandbox started on {box.endpoint} (stop it with `inv local.down`)")
    endpoint = sandbox.check_local_endpoint(box.endpoint)
    local_settings = sandbox.local_settings(settings, _chain_region(settings))
    clients = make_clients(
        local_settings,
        endpoint_url=endpoint,
        credentials=sandbox.CREDENTIALS,
        read_only=read_only,
    )
    # Belt and braces: whatever boto3 resolved, the sandbox run must hit 127.0.0.1.
    sandbox.check_local_endpoint(clients.s3_endpoint)
    sandbox.check_local_endpoint(str(clients.lambda_.meta.endpoint_url))
    return local_settings, clients
