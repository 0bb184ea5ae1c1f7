"""How lamina's CLI commands reach a running server: its URL from the settings, the usual
AWS credential chain (or the default account's key in open mode), and signed requests to
lamina's own per-account views."""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlencode

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from lamina.config import load_config


def lamina_session(endpoint_url: str | None, region: str | None) -> tuple[boto3.Session, str]:
    """A boto3 session and lamina's URL."""
    config = load_config()
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    endpoint_url = endpoint_url or f"http://{host}:{config.port}"
    region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or config.default_region
    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        session = boto3.Session(region_name=region, aws_access_key_id=config.default_account,
                                aws_secret_access_key="lamina")
    return session, endpoint_url


def fetch_view(path: str, function: str | None, endpoint_url: str | None, region: str | None) -> dict[str, Any]:
    """GET one of lamina's `/_lamina/...` account views, signed like an API call."""
    session, endpoint_url = lamina_session(endpoint_url, region)
    url = f"{endpoint_url}{path}" + (f"?{urlencode({'function': function})}" if function else "")
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(session.get_credentials(), "lambda", session.region_name).add_auth(request)
    response = requests.get(url, headers=dict(request.headers), timeout=30)
    if response.status_code != 200:
        sys.exit(f"lamina: {response.status_code} {response.text}")
    return response.json()
