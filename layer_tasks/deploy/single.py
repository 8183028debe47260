"""A deploy to one target (one architecture in one region): survey, plan, execute.

    survey:   `survey.survey`, every check and read before a change
    plan:     `plan.make_plan`, pure: the ordered steps
    execute:  `executor.execute`, each step exactly as planned; the ARN file and the
              config come after a publish whose CodeSha256 matched the local zip

A failed check leaves no new version, no new S3 object, the bucket's settings and every
local file as they were. ``--dry-run`` prints the plan's steps and stops.
"""

from __future__ import annotations

from dataclasses import replace

from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy.executor import execute
from layer_tasks.deploy.model import REPLANS, Log, Options, Outcome, Outdated
from layer_tasks.deploy.plan import Plan, make_plan
from layer_tasks.deploy.survey import survey
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest


def survey_and_plan(
    settings: LayerSettings, clients: Clients, options: Options, *, log: Log = print
) -> tuple[Plan, Manifest | None]:
    """The survey and the plan of a one-target deploy."""
    found = survey(settings, clients, options, log=log)
    return make_plan(settings, found, force=options.force), found.manifest


def deploy_one(
    settings: LayerSettings, clients: Clients, options: Options, *, log: Log = print
) -> Outcome:
    """Survey, plan and execute one target; planned again when another deploy published
    while this one waited for the lock."""
    build = options.build
    for attempt in range(REPLANS):
        # Planned again after waiting for the lock: from the zip already built.
        attempt_options = replace(options, build=build and attempt == 0)
        plan, manifest = survey_and_plan(settings, clients, attempt_options, log=log)
        if options.dry_run or attempt:
            log("plan (dry run, nothing changed):" if options.dry_run else "plan, again:")
            for line in plan.lines():
                log(f"  {line}")
        if options.dry_run:
            return Outcome(plan=plan, arn=None, version=None, published=False, manifest=manifest)
        assert manifest is not None
        try:
            return execute(plan, manifest, clients, log=log)
        except Outdated:
            log("lock: another deploy published while this one waited; planning again")
    raise LayerError(
        f"the layer changed {REPLANS} times while this deploy waited for its lock: "
        "deploy again when the other deploys have finished"
    )
