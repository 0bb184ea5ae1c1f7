"""From a deployed function version to the `EnvironmentSpec` its environments run with.

Specs are built once per deployment and cached; the key changes with the deployment's
revision, so a change of code or configuration never reaches an existing environment."""

from __future__ import annotations

from collections.abc import Mapping

from lamina.control.function_model import Deployment, Function
from lamina.control.packages import CodeCache
from lamina.credentials import SessionCredentials
from lamina.sandbox.spec import EnvironmentSpec


class SpecBuilder:
    def __init__(self, code: CodeCache, sessions: SessionCredentials, platform_environment: Mapping[str, str]) -> None:
        self.code = code
        self.sessions = sessions
        self.platform_environment = dict(platform_environment)
        self._cache: dict[tuple[tuple[str, str, str], str], EnvironmentSpec] = {}

    def spec_for(self, function: Function, version_key: str, deployment: Deployment) -> EnvironmentSpec:
        cached = self._cache.get((function.key, version_key))
        if cached is not None and cached.key.endswith(deployment.revision_id):
            return cached
        spec = self._build(function, version_key, deployment)
        self._cache[(function.key, version_key)] = spec
        return spec

    def forget(self, function: Function, version_key: str) -> EnvironmentSpec | None:
        return self._cache.pop((function.key, version_key), None)

    def _build(self, function: Function, version_key: str, deployment: Deployment) -> EnvironmentSpec:
        config = deployment.config
        logging_config = config.get("LoggingConfig") or {}
        platform = dict(self.platform_environment)
        platform.update(self.sessions.issue(function.account_id))
        return EnvironmentSpec(
            key=f"{function.arn}:{version_key}:{deployment.revision_id}",
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
            log_group=logging_config.get("LogGroup", f"/aws/lambda/{function.name}"),
            log_format=logging_config.get("LogFormat", "Text"),
            application_log_level=logging_config.get("ApplicationLogLevel"),
            system_log_level=logging_config.get("SystemLogLevel"),
            platform_environment=platform,
        )
