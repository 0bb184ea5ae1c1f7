"""The agent starts in every environment, before anything else: it imports only what it
runs, as the sandbox starts it (isolated, no site)."""

from __future__ import annotations

import subprocess
import sys

from lamina.sandbox.isolation.agent_command import AGENT_PACKAGE

HEAVY = {"typing", "subprocess", "asyncio", "json", "enum", "selectors", "re", "threading"}


def test_the_agent_imports_nothing_heavy() -> None:
    program = (f"import sys; sys.path.insert(0, {str(AGENT_PACKAGE.parent)!r}); import agent.agent; "
               "print(' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", program], capture_output=True, text=True,
                          timeout=60, check=True)
    loaded = set(done.stdout.split())
    assert "agent.agent" in loaded
    assert loaded & HEAVY == set()
