"""How the agent starts a runtime process, as the runtime sees it: default signal
dispositions, only stdin/stdout/stderr (and lamina's named fds) inherited, the sandbox
user, its own working directory; and Go's wording when it cannot be executed."""

from __future__ import annotations

import pytest

from .conftest import Harness, body, which

pytestmark = pytest.mark.skipif(which("curl") is None, reason="curl is not installed")

REPORTING_BOOTSTRAP = """
    #!/bin/sh
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    while true; do
      HEADERS="$(mktemp)"
      curl -sS -D "$HEADERS" "$API/invocation/next" >/dev/null
      ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
      IGNORED=$(grep SigIgn /proc/$$/status | cut -f2)
      SOCKETS=$(ls -l /proc/$$/fd | grep -c socket)
      STDIN=$(readlink /proc/$$/fd/0)
      curl -sS -X POST "$API/invocation/$ID/response" \\
        -d "{\\"ignored\\": \\"$IGNORED\\", \\"sockets\\": $SOCKETS, \\"stdin\\": \\"$STDIN\\", \\"uid\\": $(id -u), \\"cwd\\": \\"$(pwd)\\"}" >/dev/null
    done
"""


def test_runtime_starts_clean(sandbox: Harness) -> None:
    out = body(sandbox.invoke(sandbox.function({"bootstrap": REPORTING_BOOTSTRAP}, runtime="provided.al2023")))
    # SIGPIPE and SIGXFSZ are back to their defaults (the agent's Python ignores them).
    assert out["ignored"] == "0000000000000000"
    assert out["sockets"] == 0  # neither the agent's control socket nor its listener leaks into the runtime
    assert out == {**out, "stdin": "/dev/null", "uid": 64000, "cwd": "/var/task"}


def test_bootstrap_with_a_missing_interpreter(sandbox: Harness) -> None:
    spec = sandbox.function({"bootstrap": "#!/no/such/interpreter\n"}, runtime="provided.al2023")
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.InvalidEntrypoint"
    assert body(result)["errorMessage"].endswith("Error: fork/exec /var/task/bootstrap: no such file or directory")
