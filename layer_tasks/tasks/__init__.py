"""The Invoke namespaces: ``layer.*`` (the pipeline) and ``local.*`` (the sandbox)."""

from __future__ import annotations

from types import ModuleType

from invoke import Collection

from layer_tasks.tasks import _startup, audit, aws, build, config, diff, init, local, lock
from layer_tasks.tasks.env import INVOKE_DEFAULTS
from layer_tasks.util import redact

# Before any task runs: no log record or traceback of this process shows a secret.
redact.install()
# Invoke imports this before it reads the configuration files and the environment; the
# net passes what it does not know to the redacting hook installed just above.
_startup.install()


def _collection(name: str, *modules: ModuleType) -> Collection:
    coll = Collection(name)
    for module in modules:
        for task in Collection.from_module(module).tasks.values():
            coll.add_task(task)
    return coll


layer = _collection("layer", build, aws, config, audit, diff, lock, init)
# Every key has a default here, so INVOKE_LAYER_<KEY> overrides work for each one.
layer.configure({"layer": INVOKE_DEFAULTS})

ns = Collection()
ns.add_collection(layer)
ns.add_collection(_collection("local", local))
ns.configure({"layer": INVOKE_DEFAULTS})
