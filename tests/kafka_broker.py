"""A Kafka broker for tests: LAMINA_TEST_KAFKA_BOOTSTRAP, else one on localhost:9092,
else librdkafka's mock cluster (a Kafka-protocol broker built into librdkafka, started
through `kcat`, from Debian's kcat package). With none of them the tests are skipped
with the reason."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading

from esm_helpers import reachable


class KafkaBroker:
    def __init__(self) -> None:
        self.bootstrap: str | None = None
        self.reason = ""
        self.process: subprocess.Popen | None = None

    def start(self) -> KafkaBroker:
        configured = os.environ.get("LAMINA_TEST_KAFKA_BOOTSTRAP")
        if configured:
            self.bootstrap = configured
            return self
        if reachable("127.0.0.1", 9092):
            self.bootstrap = "127.0.0.1:9092"
            return self
        kcat = shutil.which("kcat") or shutil.which("kafkacat")
        if kcat is None:
            self.reason = ("no Kafka broker: set LAMINA_TEST_KAFKA_BOOTSTRAP, run one on localhost:9092, or install "
                           "kcat (librdkafka's mock cluster)")
            return self
        # A consumer that never finishes keeps the mock cluster alive; it logs its address.
        self.process = subprocess.Popen(
            [kcat, "-X", "test.mock.num.brokers=1", "-b", "127.0.0.1:1", "-C", "-t", "lamina-anchor", "-d", "mock",
             "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.process.stderr is not None
        for line in self.process.stderr:
            match = re.search(r"bootstrap\.servers=(\S+)", line)
            if match:
                self.bootstrap = match.group(1)
                break
        if self.bootstrap is None:
            self.reason = "kcat did not start librdkafka's mock cluster"
            self.stop()
            return self
        # Keep draining its log so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()  # type: ignore[union-attr]
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
