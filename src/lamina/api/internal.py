"""lamina's own routes under `/_lamina/`: health, code downloads, per-account views (the
async queue, metrics) and, with --dev, reset."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from lamina.api.app import Request, Response
from lamina.api.sigv4 import Authenticator
from lamina.control.code_urls import CodeUrlSigner
from lamina.store.blobs import BlobStore

_CODE = re.compile(r"/_lamina/code/(\d{12})/([0-9a-f]{64})")


def _not_found(message: str = "Not found") -> Response:
    return Response.json(404, {"message": message})


# (account, region, function or None) -> a JSON document about that account.
AccountView = Callable[[str, str, str | None], Awaitable[dict[str, Any]]]


class InternalRoutes:
    def __init__(self, health: Callable[[], dict[str, Any]], blobs: BlobStore, code_urls: CodeUrlSigner,
                 reset: Callable[[], Awaitable[None]] | None, authenticator: Authenticator | None = None,
                 account_views: dict[str, AccountView] | None = None) -> None:
        self.health = health
        self.blobs = blobs
        self.code_urls = code_urls
        self.reset = reset  # None unless the server runs with --dev
        self.authenticator = authenticator
        self.account_views = account_views or {}

    async def __call__(self, request: Request) -> Response:
        path, method = request.raw_path, request.method
        if path == "/_lamina/health" and method == "GET":
            return Response.json(200, self.health())
        if path == "/_lamina/reset" and method == "POST" and self.reset is not None:
            # Wipes every account: with keys configured, only a configured key may sign it
            # (not the session credentials a function holds).
            if self.authenticator:
                self.authenticator.authenticate(method, path, request.raw_query, request.headers, request.body,
                                                allow_sessions=False)
            await self.reset()
            return Response.json(200, {"reset": True})
        code = _CODE.fullmatch(path)
        if code and method == "GET":
            return await self._code(request, code[1], code[2])
        view = self.account_views.get(path)
        if view is not None and method == "GET" and self.authenticator:
            # Signed like any API call: it shows the caller's own account.
            caller = self.authenticator.authenticate(method, path, request.raw_query, request.headers, request.body)
            function = request.query.get("function", [None])[0]
            return Response.json(200, await view(caller.account_id, caller.region, function))
        return _not_found()

    async def _code(self, request: Request, account_id: str, blob: str) -> Response:
        query = request.query
        expires, signature = query.get("Expires", [""])[0], query.get("Signature", [""])[0]
        if not self.code_urls.verify(account_id, blob, expires, signature):
            return Response.json(403, {"message": "Request has expired or its signature is invalid"})
        if not self.blobs.exists(blob):
            return _not_found("The deployment package no longer exists")
        data = await asyncio.to_thread(self.blobs.read, blob)
        return Response(200, [(b"content-type", b"application/zip")], data)
