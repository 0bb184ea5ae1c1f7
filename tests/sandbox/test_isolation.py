"""What a function can and cannot see or do inside its environment (bubblewrap mode)."""

from __future__ import annotations

import os
import socket
import threading

from .conftest import Harness, body

PROBE = """
    import ctypes, json, os, socket, threading
    libc = ctypes.CDLL(None, use_errno=True)
    def unshare(flags):
        if libc.unshare(flags) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
    def syscall(number, *args):
        if libc.syscall(number, *args) < 0:
            raise OSError(ctypes.get_errno(), "syscall")
    def run_thread():
        box = []
        thread = threading.Thread(target=box.append, args=("ran",))
        thread.start()
        thread.join()
        return box
    def handler(event, context):
        def attempt(action):
            try:
                action()
                return "allowed"
            except OSError as error:
                return type(error).__name__
        def write(path):
            with open(path, "w") as f:
                f.write("x")
        status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
        return {
            "paths": {path: os.path.exists(path) for path in event["paths"]},
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "uid": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
            "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(),
            "no_new_privs": status["NoNewPrivs"].strip(),
            "write_task": attempt(lambda: write("/var/task/new")),
            "write_runtime": attempt(lambda: write("/var/runtime/new")),
            "write_etc": attempt(lambda: write("/etc/passwd")),
            "write_root": attempt(lambda: write("/new")),
            "mkdir_usr": attempt(lambda: os.mkdir("/usr/new")),
            "setuid": attempt(lambda: os.setuid(0)),
            "hostname": attempt(lambda: socket.sethostname("owned")),
            "new_user_namespace": attempt(lambda: unshare(0x10000000)),
            "new_mount_namespace": attempt(lambda: unshare(0x00020000)),
            "keyctl": attempt(lambda: syscall(250, 0, -3, 0)),  # KEYCTL_GET_KEYRING_ID of the session keyring
            "thread": run_thread(),
            "passwd": open("/etc/passwd").read(),
            "env": sorted(os.environ),
            "var": sorted(os.listdir("/var")),
            "task": sorted(os.listdir("/var/task")),
        }
"""


def test_a_function_sees_only_its_own_sandbox(sandbox: Harness) -> None:
    os.environ["LAMINA_SERVER_SECRET"] = "must not leak"
    try:
        spec = sandbox.function({"app.py": PROBE})
        other = sandbox.function({"other.py": "SECRET = 1\n"})
        paths = [str(sandbox.pool.data_dir), "/root", "/home", "/work", str(other.code_dir), str(spec.code_dir),
                 "/sys/fs/cgroup", "/var/lamina/agent"]
        out = body(sandbox.invoke(spec, {"paths": paths}))
    finally:
        del os.environ["LAMINA_SERVER_SECRET"]
    assert out["paths"] == {str(sandbox.pool.data_dir): False, "/root": False, "/home": False, "/work": False,
                            str(other.code_dir): False, str(spec.code_dir): False, "/sys/fs/cgroup": False,
                            "/var/lamina/agent": True}
    assert out["pids"] == [1, 2]  # the agent and the runtime: no other process of the host or of other functions
    assert out["uid"] == [64000, 64000, 64000, []]
    assert out["cap_eff"] == "0000000000000000" and out["cap_bnd"] == "0000000000000000"
    assert out["no_new_privs"] == "1"
    for key in ("write_task", "write_runtime", "write_etc", "write_root", "mkdir_usr"):
        assert out[key] in ("OSError", "PermissionError"), key
    assert out["setuid"] == "PermissionError" and out["hostname"] == "PermissionError"
    # seccomp: no new namespaces (hence no way to mount anything), no kernel keyrings
    assert out["new_user_namespace"] == out["new_mount_namespace"] == out["keyctl"] == "PermissionError"
    assert out["thread"] == ["ran"]  # threads still start (clone3 falls back to clone)
    assert "sbx_user1051:x:64000:64000" in out["passwd"] and "root:" in out["passwd"]
    assert len(out["passwd"].splitlines()) == 2  # none of the host's accounts
    assert "LAMINA_SERVER_SECRET" not in out["env"]
    assert out["task"] == ["app.py"]
    assert set(out["var"]) == {"lamina", "lang", "runtime", "task"}


def test_tmp_is_private_to_each_environment(sandbox: Harness) -> None:
    code = {"app.py": """
        import os
        def handler(event, context):
            if event.get("write"):
                open("/tmp/secret", "w").write(event["write"])
            return {"seen": open("/tmp/secret").read() if os.path.exists("/tmp/secret") else None,
                    "mode": oct(os.stat("/tmp").st_mode & 0o7777)}
    """}
    writer = sandbox.function(code)
    reader = sandbox.function(code)
    assert body(sandbox.invoke(writer, {"write": "mine"})) == {"seen": "mine", "mode": "0o1777"}
    assert body(sandbox.invoke(reader))["seen"] is None
    # Concurrent environments of one function do not share /tmp either.
    results = sandbox.invoke_concurrently(writer, 2)
    seen = sorted(str(body(r)["seen"]) for r in results)
    assert seen == ["None", "mine"]


def test_runtime_api_of_another_environment_is_unreachable(sandbox: Harness) -> None:
    victim = sandbox.function({"bootstrap": """
        #!/bin/sh
        API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
        while true; do
          HEADERS="$(mktemp)"
          EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
          ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
          curl -sS -X POST "$API/invocation/$ID/response" -d "\\"$AWS_LAMBDA_RUNTIME_API\\"" >/dev/null
        done
    """}, runtime="provided.al2023")
    address = body(sandbox.invoke(victim))
    attacker = sandbox.function({"app.py": """
        import http.client
        def handler(event, context):
            host, port = event["address"].split(":")
            connection = http.client.HTTPConnection(host, int(port), timeout=5)
            try:
                connection.request("GET", "/2018-06-01/runtime/invocation/next")
                return connection.getresponse().status
            except (OSError, http.client.HTTPException) as error:
                return type(error).__name__
    """})
    outcome = body(sandbox.invoke(attacker, {"address": address}))
    assert outcome in ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"), outcome
    assert body(sandbox.invoke(victim)) == address  # and the victim is undisturbed


def _serve_once(server: socket.socket) -> None:
    try:
        connection, _ = server.accept()
        connection.sendall(b"hello from the host")
        connection.close()
    except OSError:
        pass


def test_host_network_by_default_and_isolated_on_request(sandbox: Harness) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(10)
    port = server.getsockname()[1]
    code = {"app.py": """
        import os, socket
        def handler(event, context):
            try:
                with socket.create_connection(("127.0.0.1", event["port"]), timeout=3) as s:
                    reached = s.recv(100).decode()
            except OSError as error:
                reached = type(error).__name__
            return {"reached": reached, "interfaces": sorted(name for _, name in socket.if_nameindex())}
    """}
    threading.Thread(target=_serve_once, args=(server,), daemon=True).start()
    try:
        hosted = body(sandbox.invoke(sandbox.function(code), {"port": port}))
        isolated = body(sandbox.invoke(sandbox.function(code, network="isolated"), {"port": port}))
    finally:
        server.close()
    assert hosted["reached"] == "hello from the host"
    assert isolated == {"reached": "ConnectionRefusedError", "interfaces": ["lo"]}


def test_limits_follow_the_function_configuration(sandbox: Harness) -> None:
    """Memory at MemorySize with no swap, 1024 pids, a CPU share proportional to memory
    (1,769 MB is one vCPU's worth), read from the environment's cgroup outside."""
    spec = sandbox.function({"app.py": "def handler(event, context):\n    return 1\n"}, memory_mb=1769)
    sandbox.invoke(spec)
    (environment,) = sandbox.pool._idle[spec.key]
    cgroup = environment.cgroup
    assert cgroup is not None
    memory, pids, cpu = cgroup.dirs["memory"], cgroup.dirs["pids"], cgroup.dirs["cpu"]
    if cgroup.version == 1:
        assert int((memory / "memory.limit_in_bytes").read_text()) == 1769 * 1024 * 1024
        if (memory / "memory.memsw.limit_in_bytes").exists():
            assert int((memory / "memory.memsw.limit_in_bytes").read_text()) == 1769 * 1024 * 1024
        assert (cpu / "cpu.shares").read_text().strip() == "1024"
    else:
        assert int((memory / "memory.max").read_text()) == 1769 * 1024 * 1024
        assert (memory / "memory.swap.max").read_text().strip() == "0"
        assert (cpu / "cpu.weight").read_text().strip() == "100"
    assert (pids / "pids.max").read_text().strip() == "1024"
