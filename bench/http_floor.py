"""The floor for invoke latency: a bare HTTP echo server on the same HTTP server lamina uses
(httptools + uvloop, `lamina.api.http_server`), started as its own process."""

from __future__ import annotations

import sys

import uvloop

from lamina.api.http_server import FixedAdmission, HttpRequest, HttpResponse, HttpServer


async def echo(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, [(b"content-type", b"application/json")], request.body)


if __name__ == "__main__":
    uvloop.run(HttpServer(echo, admission=FixedAdmission(10 << 20)).serve("127.0.0.1", int(sys.argv[1])))
