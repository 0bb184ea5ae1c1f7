"""A lamina whose front door listens twice, over the same services: on the first port as
`lamina serve` does (with the Invoke fast path), on the second with only the generic
model-driven path. The differential tests send both the same requests.

    python tests/api/dual_front_door.py DATA_DIR FAST_PORT GENERIC_PORT
"""

from __future__ import annotations

import logging
import sys

import uvloop

from lamina.api.app import App
from lamina.api.http_server import HttpServer
from lamina.config import load_config
from lamina.server import Lamina


def main() -> None:
    data_dir, fast_port, generic_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config({"data_dir": data_dir, "port": fast_port, "dev": True})
    lamina = Lamina(config)
    fast = lamina.app
    assert fast.invoke is not None, "lamina's front door has no Invoke fast path"
    generic = App(fast.authenticator, fast.rest, fast.internal, fast.json_services)
    generic_server = HttpServer(generic, admission=generic)

    async def start() -> None:
        await lamina.start()
        await generic_server.listen("127.0.0.1", generic_port)

    uvloop.run(HttpServer(fast, admission=fast).serve("127.0.0.1", fast_port, on_startup=start,
                                                      on_shutdown=lamina.close))


if __name__ == "__main__":
    main()
