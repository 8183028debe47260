"""Share a layer version: ``lambda:GetLayerVersion`` for accounts or an organization.

``share_with`` in the config lists 12-digit account IDs, organization IDs (``o-...``)
or ``"*"``. Public (``"*"``) only happens when the config says exactly that, and is
announced with a warning every time. Statement IDs are derived from the grantee, so
running it again finds the statement already there and adds nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from layer_tasks.aws.errors import AccessDenied, AwsError, Conflict, NotFound, boundary
from layer_tasks.config.validate import untrimmed
from layer_tasks.errors import LayerError

ACTION = "lambda:GetLayerVersion"
# fullmatch, ASCII digits: `$` passes a trailing newline and `\d` any Unicode digit.
_ACCOUNT_RE = re.compile(r"[0-9]{12}", re.ASCII)
_ORG_RE = re.compile(r"o-[a-z0-9]{10,32}", re.ASCII)


@dataclass(frozen=True)
class Grant:
    statement_id: str
    principal: str  # an account ID, or "*" (with organization_id: only that organization)
    organization_id: str | None = None

    @property
    def public(self) -> bool:
        return self.principal == "*" and self.organization_id is None


def grant_for(entry: str) -> Grant:
    """The permission one ``share_with`` entry asks for; anything else is a `LayerError`
    (whitespace around it too: the grant goes to exactly what the entry says)."""
    text = untrimmed("layer.share_with entry", str(entry))
    if _ACCOUNT_RE.fullmatch(text):
        return Grant(f"layer-tasks-account-{text}", text)
    if _ORG_RE.fullmatch(text):
        return Grant(f"layer-tasks-org-{text}", "*", organization_id=text)
    if text == "*":
        return Grant("layer-tasks-public", "*")
    raise LayerError(
        f"layer.share_with entry {entry!r} is not a 12-digit account ID, an organization ID "
        '(o-...), or "*" (public)'
    )


def _existing_statement_ids(client: LambdaClient, name: str, version: int) -> set[str]:
    try:
        with boundary(f"layer {name} version {version}"):
            response = client.get_layer_version_policy(LayerName=name, VersionNumber=version)
    except NotFound:
        return set()  # no policy yet
    policy = json.loads(response.get("Policy") or "{}")
    return {str(s.get("Sid")) for s in policy.get("Statement", []) if s.get("Sid")}


def share_with(
    client: LambdaClient,
    name: str,
    version: int,
    entries: Iterable[str],
    *,
    warn: Callable[[str], None] = print,
) -> list[Grant]:
    """Add the permissions ``entries`` ask for to layer ``name`` version ``version``.
    Returns the grants added now (already-present ones are skipped, not errors)."""
    grants = [grant_for(entry) for entry in entries]  # validate all before any call
    if not grants:
        return []
    existing = _existing_statement_ids(client, name, version)
    added = []
    for grant in grants:
        if grant.public:
            warn(
                f"warning: layer {name} version {version} is shared with every AWS account "
                '(layer.share_with contains "*")'
            )
        if grant.statement_id in existing:
            continue
        params: dict[str, Any] = {
            "LayerName": name,
            "VersionNumber": version,
            "StatementId": grant.statement_id,
            "Action": ACTION,
            "Principal": grant.principal,
        }
        if grant.organization_id:
            params["OrganizationId"] = grant.organization_id
        try:
            with boundary(f"layer {name} version {version}"):
                client.add_layer_version_permission(**params)
        except Conflict:
            continue  # added by someone else in between: that is what we wanted
        except AccessDenied:
            raise  # its message names the IAM fix
        except AwsError as exc:
            raise exc.reworded(
                f"sharing layer {name} version {version} with {grant.principal}"
                f"{' (' + grant.organization_id + ')' if grant.organization_id else ''} "
                f"failed: {exc.detail}"
            ) from None
        existing.add(grant.statement_id)
        added.append(grant)
    return added
