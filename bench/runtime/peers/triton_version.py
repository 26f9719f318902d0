# Prints the version of a tritonserver binary as its server metadata (GET /v2) reports it: starts it
# with an empty model repository, HTTP only, on a free local port, asks, and stops it.
# Usage: python triton_version.py <tritonserver> <empty model repository dir>
# (the environment must already carry the LD_LIBRARY_PATH the binary needs).
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def main() -> int:
    binary, repo = sys.argv[1], sys.argv[2]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            binary,
            f"--model-repository={repo}",
            "--model-control-mode=explicit",
            "--http-address=127.0.0.1",
            f"--http-port={port}",
            "--allow-grpc=false",
            "--allow-metrics=false",
            "--log-info=false",
            "--log-warning=false",
            "--log-error=false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
                print(f"tritonserver exited with {proc.returncode}: {err}", file=sys.stderr)
                return 1
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2", timeout=2) as r:
                    print(json.load(r)["version"])
                    return 0
            except OSError:
                time.sleep(0.1)
        print("tritonserver did not answer GET /v2 within 60 s", file=sys.stderr)
        return 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
