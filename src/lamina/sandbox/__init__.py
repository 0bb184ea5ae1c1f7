"""Worker side of execution: environments, their pool, isolation and cgroups.

The agent (`sandbox/agent`) runs inside each environment; managed runtimes live in
`sandbox/runtimes`.
"""

from .pool import EnvironmentPool, UnsupportedRuntime
from .spec import EnvironmentSpec, InvokeRequest, InvokeResult, LogLine

__all__ = ["EnvironmentPool", "EnvironmentSpec", "InvokeRequest", "InvokeResult", "LogLine", "UnsupportedRuntime"]
