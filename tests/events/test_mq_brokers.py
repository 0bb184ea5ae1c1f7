"""Resolving an Amazon MQ broker: the `mq_broker_urls` setting, the Amazon MQ API
(DescribeBroker) and the BASIC_AUTH secret from Secrets Manager, against moto's server."""

from __future__ import annotations

import asyncio
import json

import pytest

from aws_endpoint import LocalAws
from lamina.events.aws_clients import AwsClients
from lamina.events.mq_brokers import BrokerError, MqBrokers, parse_broker_urls


@pytest.fixture(scope="module")
def aws():
    endpoint = LocalAws().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def brokers(aws, monkeypatch):
    for key, value in aws.environment.items():
        monkeypatch.setenv(key, value)
    clients = AwsClients(threads=4)
    yield lambda urls: MqBrokers(clients, urls)
    clients.close()


def secret(aws, username: str, password: str) -> str:
    return aws.client("secretsmanager").create_secret(
        Name=f"mq-{username}", SecretString=json.dumps({"username": username, "password": password}))["ARN"]


def test_setting_maps_a_broker_arn_to_a_self_hosted_url(aws, brokers):
    arn = "arn:aws:mq:us-east-1:000000000000:broker:mine:b-1"
    resolver = brokers(parse_broker_urls(f"{arn}=amqp://rabbit.internal:5673"))
    url = asyncio.run(resolver.amqp_url(arn, secret(aws, "svc", "p@ss/word"), "/prod"))
    assert url == "amqp://svc:p%40ss%2Fword@rabbit.internal:5673/%2Fprod"


def test_other_brokers_are_described_through_the_amazon_mq_api(aws, brokers):
    created = aws.client("mq").create_broker(
        BrokerName="described", EngineType="RABBITMQ", EngineVersion="3.13", HostInstanceType="mq.m5.large",
        DeploymentMode="SINGLE_INSTANCE", PubliclyAccessible=False, AutoMinorVersionUpgrade=True,
        Users=[{"Username": "admin", "Password": "long-enough-password"}])
    url = asyncio.run(brokers({}).amqp_url(created["BrokerArn"], secret(aws, "admin", "pw"), "/"))
    assert url.startswith("amqps://admin:pw@") and url.endswith("/%2F")


def test_unknown_broker_and_bad_setting(aws, brokers):
    with pytest.raises(BrokerError):
        asyncio.run(brokers({}).amqp_url("arn:aws:mq:us-east-1:000000000000:broker:x:b-missing",
                                         secret(aws, "x", "y"), "/"))
    with pytest.raises(ValueError):
        parse_broker_urls("not-an-arn=amqp://h")
