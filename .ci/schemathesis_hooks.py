"""Schemathesis hooks for .ci/api-conformance.sh: rules of the API that OpenAPI cannot state.

The hook runs before every request of every phase (fuzzing and the stateful phase, whose links
fill fields from earlier answers). It touches only requests schemathesis generated as valid
("positive" ones) and shapes each to follow the runtime rules below that no JSON Schema keyword
expresses, so that a valid request the server refuses is still a failure for every other
reason. Invalid ("negative") requests are sent as generated.
"""

from datetime import datetime, timedelta, timezone

import schemathesis

# Operations that update a changelog: they need the revision the update is based on, from
# `If-Match` or the body's `revision` (one is required, and they must agree). OpenAPI cannot
# require one of a header and a body field, nor make two of them equal.
REVISIONED = {"replace_changelog", "patch_changelog", "set_tags", "restore_version"}


def _operation_id(context):
    operation = context.operation
    definition = getattr(operation, "definition", None)
    raw = getattr(definition, "raw", None) or {}
    return raw.get("operationId")


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context, case, kwargs):
    operation = _operation_id(context)
    if not _positive(case):
        return
    if operation in REVISIONED:
        body = case.body if isinstance(case.body, dict) else None
        has_header = case.headers is not None and "If-Match" in case.headers
        has_body = body is not None and body.get("revision") is not None
        if has_header and has_body:
            del body["revision"]
        elif not has_header and not has_body:
            if case.headers is None:
                case.headers = {}
            case.headers["If-Match"] = '"1"'
    elif operation == "list_changelogs":
        # A cursor is opaque: only a `next_cursor` the server made is one.
        if case.query:
            case.query.pop("cursor", None)
    elif operation == "create_api_key":
        # `expires_at` must be in the future.
        body = case.body if isinstance(case.body, dict) else None
        if body and isinstance(body.get("expires_at"), str):
            try:
                at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
            except ValueError:
                at = None
            if at is not None and (at.tzinfo is None or at <= datetime.now(timezone.utc)):
                future = datetime.now(timezone.utc) + timedelta(days=1)
                body["expires_at"] = future.isoformat()
    elif operation == "register":
        # A password needs 5 different characters and must not be the username or the address.
        body = case.body if isinstance(case.body, dict) else None
        password = body.get("password") if body else None
        if isinstance(password, str) and len(password) >= 10:
            names = {str(body.get("username", "")).lower(), str(body.get("email", "")).lower()}
            if len(set(password)) < 5 or password.lower() in names:
                body["password"] = "vwxyz" + password[5:]
