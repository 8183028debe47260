"""The Chalice app beside the layer, for the tasks that know it (build, size-report,
budget, deploy): found once per run, measured per target. Without an app, None."""

from __future__ import annotations

from collections.abc import Callable

from layer_tasks.config.settings import LayerSettings
from layer_tasks.model.app import App, AppPackage


def find(settings: LayerSettings) -> App | None:
    """The app that ``layer.chalice_config`` belongs to (the folder holding ``.chalice/``
    and ``app.py``), or None."""
    from layer_tasks.project.app import find_app

    return find_app(settings.chalice_config)


def measured(
    settings: LayerSettings, app: App | None, log: Callable[[str], None]
) -> AppPackage | None:
    """``app``'s package for ``settings``' target (its requirements.txt installed for it)."""
    if app is None:
        return None
    from layer_tasks.build.app_package import measure_app

    return measure_app(settings, app, log=log)
