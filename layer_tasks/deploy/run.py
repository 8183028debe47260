"""`deploy`: the entry the tasks call. One target or several: the same survey, planner and
executor either way (`single`, `multi`), which never import each other."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy.model import Log, Options, Outcome
from layer_tasks.deploy.multi import deploy_targets
from layer_tasks.deploy.single import deploy_one
from layer_tasks.errors import LayerError
from layer_tasks.model.app import App


def deploy(
    settings: LayerSettings,
    clients: Clients,
    *,
    build: bool = True,
    force: bool = False,
    dry_run: bool = False,
    update_config: bool = True,
    log: Log = print,
    when: dt.datetime | None = None,
    clients_for: Callable[[str], Clients] | None = None,
    app: App | None = None,
) -> Outcome:
    """The whole pipeline; with ``dry_run`` only the plan (printed through ``log``).

    Several architectures or regions: `multi.deploy_targets`, with
    ``clients_for(region)`` making the clients of each region but the home one. With
    ``app`` (the Chalice app beside the layer), each target's survey measures its
    package, refuses a distribution both would install and counts it in the budget."""
    options = Options(build, force, dry_run, update_config, when, app)
    if len(settings.architectures) > 1 or len(settings.regions) > 1:
        if clients_for is None:
            raise LayerError("a deploy to several regions needs clients for each")
        return deploy_targets(settings, clients, clients_for, options, log=log)
    return deploy_one(settings, clients, options, log=log)
