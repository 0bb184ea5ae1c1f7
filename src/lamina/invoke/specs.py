"""From a deployed function version to the `EnvironmentSpec` its environments run with.

Specs are built once per deployment and cached; the key changes with the deployment's
revision, so a change of code or configuration never reaches an existing environment."""

from __future__ import annotations

from collections.abc import Mapping

from lamina.control.function_model import Deployment, Function
from lamina.control.packages import CodeCache
from lamina.credentials import SessionCredentials
from lamina.sandbox.spec import EnvironmentSpec

NETWORK_TAG = "lamina:network"


def network_mode(function: Function) -> str:
    """Functions reach the network like Lambda's do (`host`); tagging a function
    `lamina:network=isolated` gives its environments an empty network namespace instead."""
    return "isolated" if function.tags.get(NETWORK_TAG) == "isolated" else "host"


class SpecBuilder:
    def __init__(self, code: CodeCache, sessions: SessionCredentials, platform_environment: Mapping[str, str]) -> None:
        self.code = code
        self.sessions = sessions
        self.platform_environment = dict(platform_environment)
        self._cache: dict[tuple[tuple[str, str, str], str, bool], EnvironmentSpec] = {}

    def spec_for(self, function: Function, version_key: str, deployment: Deployment,
                 provisioned: bool = False) -> EnvironmentSpec:
        """`provisioned` is for environments kept ready by provisioned concurrency: a
        separate pool key, and AWS_LAMBDA_INITIALIZATION_TYPE says so."""
        cached = self._cache.get((function.key, version_key, provisioned))
        if cached is not None and cached.key.endswith(deployment.revision_id) \
                and cached.network == network_mode(function):
            return cached
        spec = self._build(function, version_key, deployment, provisioned)
        self._cache[(function.key, version_key, provisioned)] = spec
        return spec

    def forget(self, function: Function, version_key: str, current: Deployment | None) -> list[EnvironmentSpec]:
        """Drop the cached specs of a version unless they are of its `current` deployment
        (the notice of a deployment can arrive after the deployment has been invoked)."""
        forgotten = []
        for provisioned in (False, True):
            spec = self._cache.get((function.key, version_key, provisioned))
            if spec is None or (current is not None and spec.key.endswith(current.revision_id)
                                and spec.network == network_mode(function)):
                continue
            forgotten.append(self._cache.pop((function.key, version_key, provisioned)))
        return forgotten

    def _build(self, function: Function, version_key: str, deployment: Deployment,
               provisioned: bool) -> EnvironmentSpec:
        config = deployment.config
        logging_config = config.get("LoggingConfig") or {}
        platform = dict(self.platform_environment)
        platform.update(self.sessions.issue(function.account_id))
        return EnvironmentSpec(
            key=(f"{function.arn}:{version_key}:{network_mode(function)}:"
                 f"{'provisioned' if provisioned else 'on-demand'}:{deployment.revision_id}"),
            account_id=function.account_id,
            region=function.region,
            function_name=function.name,
            function_version=version_key,
            runtime=config["Runtime"],
            handler=config["Handler"],
            memory_mb=config["MemorySize"],
            timeout_s=config["Timeout"],
            ephemeral_storage_mb=config["EphemeralStorage"]["Size"],
            code_dir=self.code.path(deployment.code.blob),
            layer_dirs=(self.code.layers_path(tuple(p.blob for p in deployment.layers)),) if deployment.layers else (),
            environment=dict((config.get("Environment") or {}).get("Variables") or {}),
            architecture=config["Architectures"][0],
            network=network_mode(function),
            log_group=logging_config.get("LogGroup", f"/aws/lambda/{function.name}"),
            log_format=logging_config.get("LogFormat", "Text"),
            application_log_level=logging_config.get("ApplicationLogLevel"),
            system_log_level=logging_config.get("SystemLogLevel"),
            platform_environment=platform,
            initialization_type="provisioned-concurrency" if provisioned else "on-demand",
        )
