"""Importable helpers for diff-sync tests: page through ``GET /diff`` checking its invariants,
and drive the real :class:`~photoark.client.api.ApiClient` against the in-process app."""

from __future__ import annotations

from typing import Any

import httpx

from photoark.client.api import ApiClient
from photoark.client.transport import RetryPolicy

from .conftest import Account, Api

KINDS = (("collections", "collection"), ("entries", "entry"), ("marks", "mark"))


def diff_page(api: Api, account: Account, since: int = 0, limit: int = 1000) -> dict[str, Any]:
    params = {"since": since, "limit": limit}
    response = api.http.get("/diff", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def page_items(page: dict[str, Any]) -> list[dict[str, Any]]:
    """A page's changes of every kind, each tagged with ``kind``, merged by version."""
    items = [{"kind": kind, **item} for field, kind in KINDS for item in page[field]]
    return sorted(items, key=lambda item: int(item["version"]))


def diff_all(api: Api, account: Account, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """Every change after ``since``, page by page, checking on each page: at most ``limit``
    items, each list oldest first, versions in ``(since, latest_version]``, a full page when
    ``has_more`` and a page ending exactly at ``latest_version`` then."""
    items: list[dict[str, Any]] = []
    while True:
        page = diff_page(api, account, since, limit)
        for field, _ in KINDS:
            versions = [item["version"] for item in page[field]]
            assert versions == sorted(versions)
        batch = page_items(page)
        assert len(batch) <= limit
        assert all(since < item["version"] <= page["latest_version"] for item in batch)
        if page["has_more"]:
            assert len(batch) == limit and batch[-1]["version"] == page["latest_version"]
        items += batch
        since = page["latest_version"]
        if not page["has_more"]:
            return items


def latest_version(api: Api, account: Account) -> int:
    """The user's change counter (``latest_version`` of the last page)."""
    since = 0
    while True:
        page = diff_page(api, account, since, 5000)
        since = int(page["latest_version"])
        if not page["has_more"]:
            return since


class ViaTestClient(httpx.BaseTransport):
    """An httpx transport that hands each request to the in-process app's test client, and
    counts them."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.requests: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode("ascii")
        self.requests.append((request.method, path))
        response = self.api.http.request(
            request.method, path, content=request.read(), headers=request.headers
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


def api_client(api: Api, account: Account) -> tuple[ApiClient, ViaTestClient]:
    transport = ViaTestClient(api)
    client = ApiClient("http://testserver", account.token, RetryPolicy(attempts=1), transport)
    return client, transport
