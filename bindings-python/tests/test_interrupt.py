"""Ctrl-C interrupts a long synchronous generation promptly.

The generation runs in a subprocess against a local server that takes 30 s to answer; the
subprocess sends itself SIGINT after 1 s and reports how long `KeyboardInterrupt` took to
arrive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import faulthandler, json, os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Should the process hang (the interrupt lost, or exit blocked), every thread's stack goes to
# stderr and the process ends, so the failure says where it stood.
faulthandler.dump_traceback_later(40, exit=True)
# Ctrl-C raises KeyboardInterrupt, as in a terminal. Python installs that handler only when its
# parent left SIGINT alone, and a command run in the background of a non-interactive shell (a CI
# script's `cmd &`) inherits SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)

import changelog

class Slow(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(30)

server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()

sent = []
def interrupt():
    time.sleep(1.0)
    sent.append(time.perf_counter())
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=interrupt, daemon=True).start()

start = time.perf_counter()
try:
    changelog.generate(repo_url=sys.argv[1], allow_local=True, commit_range="v0.1.0..v0.2.0", provider="openai",
                       base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                       api_key="sk-test", cache=False)
    outcome = "finished"
except KeyboardInterrupt:
    outcome = "interrupted"
end = time.perf_counter()
print(json.dumps({"outcome": outcome, "total": end - start,
                  "latency": end - sent[0] if sent else None}), flush=True)
"""


def test_ctrl_c_interrupts_a_generation(repo: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(repo)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    report = json.loads(done.stdout)
    assert report["outcome"] == "interrupted", report
    assert report["latency"] < 0.5, report
    assert report["total"] < 5, report
