"""The front door alone: lamina's HTTP server and App (SigV4, routing, parsing, validation,
serialisation) over a stub Invoke that answers at once; with `LAMINA_ACCESS_KEYS` set, it
checks signatures. Runs with any checkout's lamina, so
`bench/front_door.py` can put the base commit's front door beside this one's.

    <tree>/.venv/bin/python bench/front_door_server.py PORT
"""

from __future__ import annotations

import os
import sys
from typing import Any

import uvloop

from lamina.api.app import App, Request, Response
from lamina.api.http_server import HttpServer
from lamina.api.lambda_rest import RestJsonAdapter
from lamina.api.sigv4 import Authenticator
from lamina.config import load_config
from lamina.context import RequestContext
from lamina.server import load_service_model


async def invoke(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": params.get("Payload") or b"{}"}


async def internal(request: Request) -> Response:
    return Response(200, [], b"ok")


def main() -> None:
    model = load_service_model("lambda")
    extra: dict[str, Any] = {}
    try:
        from lamina.api.invoke_route import InvokeRoute
        extra["invoke"] = InvokeRoute(model.operation_model("Invoke"), invoke)
    except ImportError:
        pass  # a lamina from before the fast path
    keys = {"LAMINA_ACCESS_KEYS": os.environ["LAMINA_ACCESS_KEYS"]} if "LAMINA_ACCESS_KEYS" in os.environ else {}
    app = App(Authenticator(load_config({}, environ=keys)), RestJsonAdapter(model, {"Invoke": invoke}), internal, {},
              **extra)
    uvloop.run(HttpServer(app, admission=app).serve("127.0.0.1", int(sys.argv[1])))


if __name__ == "__main__":
    main()
