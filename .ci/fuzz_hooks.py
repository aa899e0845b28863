"""Schemathesis hooks for .ci/fuzz (loaded with SCHEMATHESIS_HOOKS).

Schemathesis's own GraphQL `not_a_server_error` guesses: an error with a
`path` and no code it knows (Apollo's BAD_USER_INPUT and a few others) counts
as a server error, so a random id answered NOT_FOUND, or a viewer answered
FORBIDDEN, "fails". Clientela labels every GraphQL error with its contract
code (`extensions.code`), so this check reads the label instead, and is
stricter where it matters: an error without a code, a server code
(INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE), a null in a non-null field or
any 5xx fails.
"""

import schemathesis
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from schemathesis.specs.graphql.schemas import GraphQLSchema

# An `Upload` is a file part of a multipart request (the GraphQL multipart
# request spec), which schemathesis does not send. It fuzzes
# `startImportJob` with what a JSON request can carry in the file's place
# (strings, null), which the server must refuse as a client error; the
# multipart path itself is tested in tests/api/import_jobs.rs.
schemathesis.graphql.scalar(
    "Upload", st.one_of(st.text(max_size=40).map(nodes.String), st.just(nodes.Null))
)

SERVER_CODES = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}
CLIENT_CODES = {
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "PERSISTED_QUERY_NOT_FOUND",
}


@schemathesis.check
def graphql_no_server_error(ctx, response, case):
    """No 5xx, and every GraphQL error carries a client error's code."""
    if not isinstance(case.operation.schema, GraphQLSchema):
        return None
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        payload = response.json()
    except ValueError as exc:
        raise AssertionError(f"not JSON: {response.text[:500]}") from exc
    if not isinstance(payload, dict):
        raise AssertionError(f"not a JSON object: {response.text[:500]}")
    for error in payload.get("errors") or []:
        code = ((error or {}).get("extensions") or {}).get("code")
        message = (error or {}).get("message", "")
        if code in SERVER_CODES or code not in CLIENT_CODES:
            raise AssertionError(f"server error ({code}): {message}")
        if "non-nullable" in message or "non-null" in message:
            raise AssertionError(f"null in a non-null field: {message}")
    return None
