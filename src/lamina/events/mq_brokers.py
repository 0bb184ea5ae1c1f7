"""Where an Amazon MQ (RabbitMQ) mapping connects, and as whom.

The endpoint: the `mq_broker_urls` setting maps a broker ARN to the AMQP URL of a
self-hosted RabbitMQ; any other ARN is looked up the AWS way, through the Amazon MQ API
(DescribeBroker: the broker instance's `amqps://` endpoint). The credentials: the
BASIC_AUTH secret of the mapping, read through the Secrets Manager API
({"username": ..., "password": ...}), exactly as Lambda reads it. The virtual host comes
from the VIRTUAL_HOST source access configuration ("/" by default).
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit, urlunsplit

from lamina.events.aws_clients import AwsClients


class BrokerError(Exception):
    pass


def parse_broker_urls(setting: str) -> dict[str, str]:
    """`arn=amqp://host:port,arn2=...` as a dict (the URL's own credentials are replaced)."""
    urls: dict[str, str] = {}
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        arn, sep, url = entry.partition("=")
        if not sep or not arn.startswith("arn:") or "://" not in url:
            raise ValueError(f"mq_broker_urls entry {entry!r} is not of the form <broker-arn>=<amqp-url>")
        urls[arn.strip()] = url.strip()
    return urls


class MqBrokers:
    def __init__(self, aws: AwsClients, broker_urls: dict[str, str]) -> None:
        self.aws = aws
        self.broker_urls = broker_urls

    async def amqp_url(self, broker_arn: str, secret_arn: str, virtual_host: str) -> str:
        endpoint = self.broker_urls.get(broker_arn) or await self._described_endpoint(broker_arn)
        username, password = await self._credentials(secret_arn)
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, "/" + quote(virtual_host, safe=""), parts.query, ""))

    async def _described_endpoint(self, broker_arn: str) -> str:
        region, broker_id = broker_arn.split(":")[3], broker_arn.split(":")[-1]
        try:
            broker = await self.aws.call("mq", region, "describe_broker", BrokerId=broker_id)
        except Exception as error:
            raise BrokerError(f"Cannot describe broker {broker_arn}: {error}") from None
        if broker.get("EngineType", "RABBITMQ").upper() != "RABBITMQ":
            raise BrokerError(f"Broker {broker_arn} runs {broker['EngineType']}; lamina reads RabbitMQ brokers.")
        for instance in broker.get("BrokerInstances") or ():
            for endpoint in instance.get("Endpoints") or ():
                if endpoint.startswith(("amqps://", "amqp://")):
                    return endpoint
        raise BrokerError(f"Broker {broker_arn} has no AMQP endpoint.")

    async def _credentials(self, secret_arn: str) -> tuple[str, str]:
        region = secret_arn.split(":")[3]
        try:
            secret = await self.aws.call("secretsmanager", region, "get_secret_value", SecretId=secret_arn)
            document = json.loads(secret["SecretString"])
            return str(document["username"]), str(document["password"])
        except Exception as error:
            raise BrokerError(f"Cannot read the BASIC_AUTH secret {secret_arn}: {error}") from None
