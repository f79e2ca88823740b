"""API fuzzing: schemathesis against the server's own OpenAPI schema, in-process.

Every operation the schema declares gets a bounded number of generated requests, valid and
invalid (schemathesis' examples, coverage and fuzzing phases; positive and negative modes),
sent with a real account's token so they reach past authentication. Two properties:

- the server never answers a 5xx: whatever a client sends is served or refused with a 4xx;
- every refusal is a problem body with a stable code (:mod:`photoark.protocol.errors`).

Conformance to the schema's declared status codes is not checked: the schema lists only
FastAPI's 200/201/422, while the API answers 400 for invalid input and 401/404/409/413...
problems documented in :mod:`photoark.protocol.errors`; the second property checks those.

Reproducible: a fixed seed, deterministic generation and no example database, so CI replays
the same requests every run. Before the run the account holds an album, a committed file and an
open upload, so that small ids (which the generator favours) sometimes name real objects; ids
from earlier responses are reused too (schemathesis' response data source).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.schemas import BaseSchema

from photoark.protocol.errors import ErrorCode
from photoark.server.app import create_app
from photoark.server.config import ServerSettings
from tests.server.conftest import Api

pytestmark = pytest.mark.slow

# Generated requests per operation and phase (FUZZ_EXAMPLES=300 for a longer hunt by hand).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = 19  # issue 19

# Operations that end the session they are called with: each call gets a throw-away account,
# so the run's token stays valid for every other operation.
SESSION_ENDING = frozenset(
    {"POST /auth/logout", "POST /auth/revoke-all", "DELETE /auth/sessions/{session_id}"}
)
# How long a request may take (schemathesis' default); a server-sent-events stream never ends,
# so it is read for a moment and what it sent by then is checked.
REQUEST_SECONDS = 10.0
STREAM_SECONDS = 0.5
STREAMING = frozenset({"GET /events"})

BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def with_base64_patterns(node: Any) -> Any:
    """The schema with a base64 ``pattern`` on every binary-as-base64 string.

    The B64 fields of :mod:`photoark.protocol.models` are declared as plain strings (with
    ``contentMediaType: application/octet-stream``), so a generated "valid" body would almost
    never decode and would stop at the 400; with the pattern, positive examples reach the
    services.
    """
    if isinstance(node, list):
        return [with_base64_patterns(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: with_base64_patterns(value) for key, value in node.items()}
    if out.get("type") == "string" and out.get("contentMediaType") == "application/octet-stream":
        out["pattern"] = BASE64
    return out


def problem_body(_ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A 4xx answer is a problem body ``{code, message, details}`` with a known code."""
    if response.status_code < 400:
        return None
    body = response.json()
    label = f"{case.operation.label} -> {response.status_code}"
    assert isinstance(body, dict), f"{label}: not a problem body: {body!r}"
    assert set(body) == {"code", "message", "details"}, f"{label}: not a problem body: {body!r}"
    assert body["code"] in set(ErrorCode), f"{label}: unknown code {body['code']!r}"
    return None


class Fuzzing:
    """The app under fuzz, its builder API and the account whose token the requests carry."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        settings = ServerSettings(data_dir=data_dir, database_url=database_url, login_hash="min")
        self.app = create_app(settings)
        self.postgres = database_url.startswith("postgresql")
        self.api = Api(self.app)
        self.account = self.api.signup("fuzz@example.org")
        album = self.api.album(self.account)
        self.api.new_file(self.account, album)
        opened = self.api.open_upload(self.account, 20_000)
        assert opened.status_code == 201, opened.text

    def headers_for(self, case: Case[Any]) -> dict[str, str]:
        token = self.account.token
        if case.operation.label in SESSION_ENDING:
            token = self.api.signup(f"fuzz-{uuid.uuid4().hex[:12]}@example.org").token
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def fuzzing(tmp_path: Path, database_url: str) -> Iterator[Fuzzing]:
    fuzzing = Fuzzing(tmp_path / "server", database_url)
    yield fuzzing
    shutdown_lifespans()  # schemathesis started the app's lifespan (sweepers) for its requests
    fuzzing.app.state.engine.dispose()


@pytest.fixture
def fuzz_schema(fuzzing: Fuzzing) -> BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        }
    )
    raw = fuzzing.api.http.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(with_base64_patterns(raw), config=config)
    schema.app = fuzzing.app  # as from_asgi does: requests go to the app in-process
    schema.location = "/openapi.json"
    return schema


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
def test_no_server_error(case: Case[Any], fuzzing: Fuzzing) -> None:
    case.call_and_validate(
        headers=fuzzing.headers_for(case),
        checks=[not_a_server_error, problem_body],
        timeout=STREAM_SECONDS if case.operation.label in STREAMING else REQUEST_SECONDS,
    )
