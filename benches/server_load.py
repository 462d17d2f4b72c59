#!/usr/bin/env python3
"""Load test of `changelog serve` against the FastAPI service it replaces, with wrk.

For each server it starts (ours on SQLite, ours on PostgreSQL, then the reference with 1 and 2
uvicorn workers), all on 127.0.0.1 and a free port:

  1. seeds 10 users x 1,000 changelogs (ours through the API: register, login, then
     POST /api/v1/changelogs with source "manual", one thread per user; the reference with its
     own seed.py). Both get the same content: the reference's generator, seed 42;
  2. waits a few seconds and reads the server's idle RSS (/proc/<pid>/status VmRSS);
  3. warms up, then runs `wrk -t2 -cC -dD --latency` with the first user's bearer token
     against the first page (GET ...changelogs?limit=20) for each C in --conns, then POSTs a
     changelog (JSON body) at 16 connections as the second user, so that the first user's
     page stays the seeded one. A Lua `response` hook counts every answer that is not 2xx;
  4. reads the peak RSS (VmHWM) and stops the server (or keeps it up for the rounds).

Then, with every server still up (and idle but for the one measured), it runs --rounds
interleaved rounds of the GET at the largest connection count: ours on SQLite, then the
reference at each worker count, in turn. A machine shared with others has slow spells of tens of
seconds, and one that falls on one server's single run and not the other's moves a ratio of
separate runs by a fifth; interleaved rounds put both servers through the same spells, and
their medians make the ratio.

It prints requests/s, p50, p99, errors (socket errors + non-2xx) and memory for every run, and
the ratio of requests/s at the largest connection count: ours on SQLite against the reference's
best worker count, from the rounds' medians (from the single runs with --rounds 0). For the
reference, memory is the sum over uvicorn's processes.

PostgreSQL is the database at CHANGELOG_BENCH_DATABASE_URL (else CHANGELOG_TEST_DATABASE_URL,
else postgres://postgres@127.0.0.1:5432/test); the server runs in a fresh schema (through the
URL's `options=-c search_path=...`), created and dropped with psql. SQLite is a file in a
temporary directory. The reference runs from its directory (--reference) in a virtual
environment (--ref-venv), which is created from its requirements.txt when missing.

Usage:
  python3 benches/server_load.py [--duration 15s] [--conns 16,64] [--rounds 3] [--quick]
                                 [--bin PATH] [--skip-reference] [--skip-postgres]

Without --bin the release binary is built first. --quick is the smoke run CI uses: 50
changelogs per user, 2-second runs and one round. The exit status is 1 when any run of our server had
an error (socket error or non-2xx answer), 2 when something could not be set up.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # never anything else: every server here listens on loopback only
DEFAULT_REFERENCE = Path("/work/shared/anchors/fastapi-reference")
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"
USERS = 10
POST_CONNS = 16
THREADS = 2


class SetupError(Exception):
    """Something the benchmark needs is missing or did not start."""


# ---------------------------------------------------------------------------------------------
# The seed: the reference's generator (seed.py's body_text), so both servers hold the same text.

REF_TAGS = ["feature", "fix", "security", "perf", "docs", "breaking", "deps", "refactor", "ci",
            "build", "api", "cli", "ui", "db", "auth", "release", "hotfix", "chore", "test",
            "infra"]


def body_text(rng: random.Random, version: str) -> str:
    """The reference seed's changelog body (seed.py, `body_text`), call for call."""
    lines = [f"## {version}", "", "### Added"]
    lines += [f"- Add {rng.choice(['streaming', 'pagination', 'caching', 'retry', 'export'])} support "
              f"for {rng.choice(['changelogs', 'repositories', 'tags', 'annotations'])} (#{rng.randint(1, 9999)})"
              for _ in range(rng.randint(2, 5))]
    lines += ["", "### Fixed"]
    lines += [f"- Fix {rng.choice(['race', 'panic', 'leak', 'off-by-one', 'timeout'])} in "
              f"{rng.choice(['parser', 'git walker', 'LLM client', 'scheduler'])} (#{rng.randint(1, 9999)})"
              for _ in range(rng.randint(1, 4))]
    return "\n".join(lines)


def seed_rows(per_user: int) -> list[list[dict]]:
    """Per user, the changelogs to create: the reference's versions, titles, repositories,
    bodies and 1 to 3 tags, drawn in the reference's order from the same seed."""
    rng = random.Random(42)
    users = []
    for u in range(USERS):
        rows = []
        for j in range(per_user):
            version = f"v{j // 100}.{(j // 10) % 10}.{j % 10}"
            rows.append({
                "source": "manual",
                "repo_url": f"github.com/acme/repo-{u + 1}",
                "version": version,
                "title": f"Release {version}",
                "content": body_text(rng, version),
            })
            rng.randint(0, 60 * 24 * 700)  # the reference's created_at (ours stamps the insert)
            rows[-1]["tags"] = rng.sample(REF_TAGS, rng.randint(1, 3))
        users.append(rows)
    return users


def credentials(i: int) -> tuple[str, str]:
    """The reference's accounts: bench<i>@example.com / bench-password-<i>."""
    return f"bench{i}@example.com", f"bench-password-{i}"


# ---------------------------------------------------------------------------------------------
# Processes: everything started here is tracked and stopped, also on Ctrl-C and failures.

class Processes:
    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        # Its own process group, so that stopping it also stops its children (uvicorn's workers).
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 10.0) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        # Workers the group leader left behind (it is gone, its group may not be).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.running)):
            self.stop(proc, grace=5.0)


PROCS = Processes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, port: int, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"the server exited with {proc.returncode}:\n{tail(log)}")
        try:
            status, _, _ = request(port, "GET", "/health")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SetupError(f"the server did not answer /health within {timeout:.0f} s:\n{tail(log)}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------------------
# HTTP with the standard library.

def request(port: int, method: str, path: str, body: dict | None = None, token: str | None = None,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes, http.client.HTTPConnection]:
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=60)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), conn


def expect(status: int, want: int, body: bytes, what: str) -> dict:
    if status != want:
        raise SetupError(f"{what}: HTTP {status}, expected {want}: {body[:300]!r}")
    return json.loads(body) if body else {}


def seed_ours(port: int, per_user: int) -> tuple[list[str], float]:
    """Registers and signs in the users, creates their changelogs (one thread per user);
    returns their access tokens and the seconds it took."""
    users = seed_rows(per_user)
    started = time.monotonic()

    def one_user(i: int) -> str:
        email, password = credentials(i)
        status, body, conn = request(port, "POST", "/api/v1/auth/register",
                                     {"username": f"bench{i}", "email": email, "password": password})
        expect(status, 201, body, f"register {email}")
        status, body, conn = request(port, "POST", "/api/v1/auth/login",
                                     {"email": email, "password": password}, conn=conn)
        token = expect(status, 200, body, f"login {email}")["access_token"]
        for row in users[i]:
            status, body, conn = request(port, "POST", "/api/v1/changelogs", row, token, conn=conn)
            expect(status, 201, body, "POST /api/v1/changelogs")
        conn.close()
        return token

    with concurrent.futures.ThreadPoolExecutor(USERS) as pool:
        tokens = list(pool.map(one_user, range(USERS)))
    return tokens, time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# wrk

LUA = r"""
-- Counts every answer that is not 2xx (wrk's own count is of status >= 400 only).
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0; first_bad = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == 0 then first_bad = status end
  end
end
function done(summary, latency, requests)
  local n, bad = 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
    if bad == 0 then bad = t:get("first_bad") end
  end
  io.write(string.format("bench-non2xx: %d %d\n", n, bad))
end
"""


def lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def write_lua(directory: Path, name: str, post_body: dict | None) -> Path:
    script = LUA
    if post_body is not None:
        script += (
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {lua_string(json.dumps(post_body))}\n"
        )
    path = directory / name
    path.write_text(script)
    return path


@dataclass
class Run:
    server: str
    scenario: str
    conns: int
    rps: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    socket_errors: int = 0
    non2xx: int = 0
    first_bad: int = 0
    raw: str = ""

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx


def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]
    return float(m.group(1)) * scale


def parse_wrk(run: Run, out: str) -> Run:
    run.raw = out
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        run.rps = float(m.group(1))
    if m := re.search(r"^\s+50%\s+(\S+)", out, re.M):
        run.p50_ms = to_ms(m.group(1))
    if m := re.search(r"^\s+99%\s+(\S+)", out, re.M):
        run.p99_ms = to_ms(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        run.socket_errors = sum(int(g) for g in m.groups())
    if m := re.search(r"bench-non2xx: (\d+) (\d+)", out):
        run.non2xx, run.first_bad = int(m.group(1)), int(m.group(2))
    elif m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        run.non2xx = int(m.group(1))
    return run


def wrk(url: str, token: str, conns: int, duration: str, script: Path | None,
        timeout: float) -> str:
    argv = ["wrk", f"-t{THREADS}", f"-c{conns}", f"-d{duration}", "--latency",
            "-H", f"Authorization: Bearer {token}"]
    if script:
        argv += ["-s", str(script)]
    argv.append(url)
    proc = PROCS.start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        PROCS.stop(proc)
    if proc.returncode != 0:
        raise SetupError(f"wrk exited with {proc.returncode}:\n{out}")
    return out


def seconds(duration: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", duration)
    if not m:
        raise SetupError(f"cannot read the duration `{duration}` (like 15s, 2m)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# ---------------------------------------------------------------------------------------------
# Memory, from /proc.

def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def memory_kb(pid: int, key: str) -> int:
    """The sum of `key` (VmRSS, VmHWM) over `pid` and its descendants, in kB."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---------------------------------------------------------------------------------------------
# One server, measured.

@dataclass
class Measured:
    name: str
    runs: list[Run] = field(default_factory=list)
    idle_rss_kb: int = 0
    peak_rss_kb: int = 0
    body_bytes: int = 0
    seed_seconds: float = 0.0

    def get(self, conns: int) -> Run | None:
        return next((r for r in self.runs if r.scenario == "GET" and r.conns == conns), None)


@dataclass
class Target:
    list_path: str
    post_path: str
    post_body: dict


@dataclass
class Live:
    """A server kept up after its runs, for the interleaved rounds."""
    name: str
    proc: subprocess.Popen
    port: int
    token: str
    target: Target


def measure(name: str, proc: subprocess.Popen, port: int, token: str, post_token: str,
            target: Target, args: argparse.Namespace, work: Path) -> Measured:
    """GETs the first page as the user of `token`; POSTs as another user (`post_token`), so
    that the page measured after the POSTs (the interleaved rounds) is still the seeded one."""
    m = Measured(name)
    time.sleep(args.idle)
    m.idle_rss_kb = memory_kb(proc.pid, "VmRSS")
    status, body, conn = request(port, "GET", target.list_path, token=token)
    conn.close()
    page = expect(status, 200, body, f"GET {target.list_path}")
    if len(page.get("items", [])) != 20:
        raise SetupError(f"{name}: the first page holds {len(page.get('items', []))} items, not 20")
    m.body_bytes = len(body)
    url = f"http://{HOST}:{port}{target.list_path}"
    timeout = seconds(args.duration) + 60
    get_lua = write_lua(work, "get.lua", None)
    post_lua = write_lua(work, "post.lua", target.post_body)
    wrk(url, token, 16, args.warmup, get_lua, timeout)
    for conns in args.conns:
        run = parse_wrk(Run(name, "GET", conns), wrk(url, token, conns, args.duration, get_lua, timeout))
        m.runs.append(run)
        print(row(run), flush=True)
    post_url = f"http://{HOST}:{port}{target.post_path}"
    run = parse_wrk(Run(name, "POST", POST_CONNS),
                    wrk(post_url, post_token, POST_CONNS, args.duration, post_lua, timeout))
    m.runs.append(run)
    print(row(run), flush=True)
    # VmHWM can miss a peak that memory handed back with madvise ended (the kernel updates the
    # mark lazily), so it is never taken below the idle reading.
    m.peak_rss_kb = max(memory_kb(proc.pid, "VmHWM"), m.idle_rss_kb)
    return m


def row(run: Run) -> str:
    bad = f" (first {run.first_bad})" if run.first_bad else ""
    return (f"  {run.server:<24} {run.scenario:<5} c{run.conns:<4} {run.rps:>10.0f} req/s  "
            f"p50 {run.p50_ms:>8.2f} ms  p99 {run.p99_ms:>8.2f} ms  errors {run.errors}{bad}")


# ---------------------------------------------------------------------------------------------
# Our server.

OUR_POST = {
    "source": "manual",
    "repo_url": "github.com/acme/repo-1",
    "version": "v9.9.9",
    "title": "Release v9.9.9",
    "content": body_text(random.Random(7), "v9.9.9"),
    "tags": ["perf", "release"],
}


def run_ours(backend: str, database_url: str, args: argparse.Namespace, work: Path,
             keep: list[Live] | None = None) -> Measured:
    """Starts, seeds and measures our server; leaves it up, in `keep`, when given."""
    port = free_port()
    log = work / f"serve-{backend}.log"
    env = dict(os.environ)
    env.update({
        "CHANGELOG_JWT_SECRET": secrets.token_hex(32),
        "CHANGELOG_ENCRYPTION_KEY": secrets.token_hex(32),
        "RUST_LOG": "warn",
    })
    with log.open("w") as out:
        proc = PROCS.start([str(args.bin), "serve", "--bind", f"{HOST}:{port}",
                            "--database-url", database_url],
                           env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work)
    try:
        wait_healthy(proc, port, log)
        tokens, took = seed_ours(port, args.per_user)
        token = tokens[0]
        print(f"  seeded {USERS} users x {args.per_user} changelogs through the API in {took:.1f} s",
              flush=True)
        target = Target("/api/v1/changelogs?limit=20", "/api/v1/changelogs", OUR_POST)
        m = measure(f"changelog ({backend})", proc, port, token, tokens[1], target, args, work)
        m.seed_seconds = took
        if proc.poll() is not None:
            raise SetupError(f"the server exited during the load:\n{tail(log)}")
        if keep is not None:
            keep.append(Live(m.name, proc, port, token, target))
            proc = None
        return m
    finally:
        if proc is not None:
            PROCS.stop(proc)


def psql(url: str, sql: str) -> None:
    done = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SetupError(f"psql failed ({sql}): {done.stderr.strip()}")


def with_search_path(url: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query.append(("options", f"-c search_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def run_ours_postgres(args: argparse.Namespace, work: Path) -> Measured:
    if shutil.which("psql") is None:
        raise SetupError("psql not found (apt-get install -y postgresql-client), or --skip-postgres")
    schema = f"bench_{secrets.token_hex(6)}"
    psql(args.pg_url, f"CREATE SCHEMA {schema}")
    try:
        return run_ours("PostgreSQL", with_search_path(args.pg_url, schema), args, work)
    finally:
        psql(args.pg_url, f"DROP SCHEMA {schema} CASCADE")


# ---------------------------------------------------------------------------------------------
# The reference.

REF_POST = {
    "repository": "github.com/acme/repo-1",
    "version": "v9.9.9",
    "title": "Release v9.9.9",
    "body": OUR_POST["content"],
    "tags": ["perf", "release"],
}


def ensure_venv(venv: Path, reference: Path) -> Path:
    python = venv / "bin" / "python"
    if (venv / "bin" / "uvicorn").exists():
        return python
    print(f"  creating {venv} from {reference / 'requirements.txt'}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(reference / "requirements.txt")], check=True)
    return python


def run_reference(args: argparse.Namespace, work: Path,
                  keep: list[Live] | None = None) -> list[Measured]:
    """Seeds and measures the reference at each worker count; leaves each up, in `keep`,
    when given."""
    reference = args.reference
    if not (reference / "app" / "main.py").exists():
        raise SetupError(f"no reference service at {reference} (--reference DIR), or --skip-reference")
    python = ensure_venv(args.ref_venv, reference)
    env = dict(os.environ)
    env.update({
        "PYTHONDONTWRITEBYTECODE": "1",  # its directory is not ours to write to
        "JWT_SECRET": secrets.token_hex(32),
    })
    results = []
    for workers in args.workers:
        # A database of its own for each worker count (they are up at once for the rounds),
        # seeded by its own seed.py with the row count of this run.
        env["DATABASE_URL"] = f"sqlite:///{work / f'ref-w{workers}.db'}"
        started = time.monotonic()
        subprocess.run([str(python), "-c",
                        f"import seed; seed.PER_USER = {args.per_user}; seed.main()"],
                       cwd=reference, env=env, check=True, stdout=subprocess.DEVNULL)
        took = time.monotonic() - started
        print(f"  seeded {USERS} users x {args.per_user} changelogs with its seed.py in {took:.1f} s",
              flush=True)
        port = free_port()
        log = work / f"uvicorn-w{workers}.log"
        with log.open("w") as out:
            proc = PROCS.start([str(args.ref_venv / "bin" / "uvicorn"), "app.main:app",
                                "--host", HOST, "--port", str(port), "--workers", str(workers),
                                "--no-access-log", "--log-level", "warning"],
                               cwd=reference, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(proc, port, log)
            tokens = []
            for i in (0, 1):
                email, password = credentials(i)
                status, body, conn = request(port, "POST", "/api/auth/login",
                                             {"email": email, "password": password})
                conn.close()
                tokens.append(expect(status, 200, body, "reference login")["access_token"])
            token = tokens[0]
            target = Target("/api/changelogs?limit=20", "/api/changelogs", REF_POST)
            m = measure(f"FastAPI reference (w{workers})", proc, port, token, tokens[1], target,
                        args, work)
            m.seed_seconds = took
            results.append(m)
            if keep is not None:
                keep.append(Live(m.name, proc, port, token, target))
                proc = None
        finally:
            if proc is not None:
                PROCS.stop(proc)
    return results


# ---------------------------------------------------------------------------------------------
# Interleaved rounds.

def paired_rounds(live: list[Live], args: argparse.Namespace, work: Path) -> dict[str, list[Run]]:
    """Runs the GET at the largest connection count against each server in `live` in turn,
    --rounds times; the runs by server."""
    top = max(args.conns)
    lua = write_lua(work, "get.lua", None)
    timeout = seconds(args.duration) + 60
    runs: dict[str, list[Run]] = {server.name: [] for server in live}
    for i in range(args.rounds):
        for server in live:
            if server.proc.poll() is not None:
                raise SetupError(f"{server.name} exited before round {i + 1}")
            url = f"http://{HOST}:{server.port}{server.target.list_path}"
            run = parse_wrk(Run(server.name, "GET", top),
                            wrk(url, server.token, top, args.duration, lua, timeout))
            runs[server.name].append(run)
        print(f"  round {i + 1}: " + ", ".join(f"{name} {rs[-1].rps:.0f} req/s"
                                               for name, rs in runs.items()), flush=True)
    return runs


# ---------------------------------------------------------------------------------------------

def build() -> Path:
    print("building the release binary (cargo build --release --locked -p changelog-http)", flush=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "changelog-http",
                    "--bin", "changelog"], cwd=ROOT, check=True)
    return ROOT / "target" / "release" / "changelog"


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB" if kb else "-"


def report(results: list[Measured], rounds: dict[str, list[Run]], args: argparse.Namespace) -> None:
    print()
    print(f"GET {{list}}?limit=20 and POST (manual, JSON) with wrk -t{THREADS} -d{args.duration}"
          f" --latency; {USERS} users x {args.per_user} changelogs; load average now "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'server':<26} {'request':<8} {'conns':>5} {'req/s':>9} {'p50':>9} {'p99':>9} "
          f"{'errors':>7} {'idle RSS':>10} {'peak RSS':>10}")
    for m in results:
        for i, r in enumerate(m.runs):
            memory = (f" {mb(m.idle_rss_kb):>10} {mb(m.peak_rss_kb):>10}" if i == 0 else "")
            print(f"{m.name:<26} {r.scenario:<8} {r.conns:>5} {r.rps:>9.0f} {r.p50_ms:>6.2f} ms "
                  f"{r.p99_ms:>6.2f} ms {r.errors:>7}{memory}")
    print()
    for m in results:
        print(f"# {m.name}: first page {m.body_bytes:,} bytes (the reference's README: 9,078)")
    ours = next((m for m in results if m.name == "changelog (SQLite)"), None)
    refs = [m for m in results if m.name.startswith("FastAPI")]
    top = max(args.conns)

    def judged(target: str, met: bool) -> str:
        # A smoke run's data set and runs are too small to stand for the figures.
        if args.quick:
            return f"target {target}: not judged on a --quick run"
        return f"target {target}: {'met' if met else 'missed'}"

    verdict = lambda ratio: judged(">= 25x", ratio >= 25)  # noqa: E731
    if ours and refs and ours.get(top):
        best = max(refs, key=lambda m: m.get(top).rps if m.get(top) else 0.0)
        theirs = best.get(top)
        if theirs and theirs.rps > 0:
            ratio = ours.get(top).rps / theirs.rps
            print(f"# GET at {top} connections, single runs: changelog on SQLite "
                  f"{ours.get(top).rps:.0f} req/s, the reference's best ({best.name}) "
                  f"{theirs.rps:.0f} req/s: {ratio:.1f}x"
                  + ("" if rounds else f" ({verdict(ratio)})"))
    our_rounds = rounds.get("changelog (SQLite)", [])
    ref_rounds = {name: runs for name, runs in rounds.items() if name.startswith("FastAPI")}
    if our_rounds and ref_rounds:
        median = lambda runs: statistics.median(r.rps for r in runs)  # noqa: E731
        best = max(ref_rounds, key=lambda name: median(ref_rounds[name]))
        theirs = median(ref_rounds[best])
        if theirs > 0:
            ratio = median(our_rounds) / theirs
            each = " ".join(f"{a.rps / b.rps:.1f}x" for a, b in zip(our_rounds, ref_rounds[best])
                            if b.rps > 0)
            print(f"# GET at {top} connections, {len(our_rounds)} interleaved rounds (medians): "
                  f"changelog on SQLite {median(our_rounds):.0f} req/s, the reference's best "
                  f"({best}) {theirs:.0f} req/s: {ratio:.1f}x ({verdict(ratio)}); "
                  f"round by round {each}")
    if ours and ours.get(top):
        p99 = ours.get(top).p99_ms
        print(f"# changelog on SQLite: GET p99 at {top} connections {p99:.2f} ms "
              f"({judged('< 20 ms', p99 < 20)}); idle RSS {mb(ours.idle_rss_kb)} "
              f"({judged('< 30 MB', ours.idle_rss_kb < 30 * 1024)})")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", default=None, help="each wrk run (default 15s; 2s with --quick)")
    p.add_argument("--conns", default="16,64", help="connection counts of the GET runs (default 16,64)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 50 changelogs per user, 2-second runs, 1 s warm-up and idle")
    p.add_argument("--bin", type=Path, help="the changelog binary (default: build the release one)")
    p.add_argument("--skip-reference", action="store_true", help="do not run the FastAPI reference")
    p.add_argument("--skip-postgres", action="store_true", help="do not run ours on PostgreSQL")
    p.add_argument("--pg-url", default=os.environ.get("CHANGELOG_BENCH_DATABASE_URL")
                   or os.environ.get("CHANGELOG_TEST_DATABASE_URL") or DEFAULT_PG_URL,
                   help="the PostgreSQL database a fresh schema is made in")
    p.add_argument("--reference", type=Path,
                   default=Path(os.environ.get("CHANGELOG_REFERENCE_DIR", DEFAULT_REFERENCE)),
                   help=f"the FastAPI reference's directory (default {DEFAULT_REFERENCE})")
    p.add_argument("--ref-venv", type=Path,
                   default=Path(tempfile.gettempdir()) / "fastapi-reference" / "venv",
                   help="its virtual environment, created when missing (default $TMPDIR/fastapi-reference/venv)")
    p.add_argument("--workers", default="1,2", help="uvicorn worker counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved rounds of the GET at the largest connection count, ours "
                        "and the reference in turn (default 3; 1 with --quick; 0: none)")
    args = p.parse_args(argv)
    args.duration = args.duration or ("2s" if args.quick else "15s")
    seconds(args.duration)
    args.warmup = "1s" if args.quick else "3s"
    args.idle = 1.0 if args.quick else 3.0
    args.per_user = 50 if args.quick else 1000
    args.rounds = (1 if args.quick else 3) if args.rounds is None else args.rounds
    if args.rounds < 0:
        p.error("--rounds must be 0 or more")
    args.conns = [int(c) for c in args.conns.split(",") if c.strip()]
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    # The reference runs from its own directory: its paths must not depend on ours.
    args.reference = args.reference.absolute()
    args.ref_venv = args.ref_venv.absolute()
    if not args.conns or min(args.conns) < THREADS:
        p.error(f"--conns needs connection counts of at least {THREADS}")
    return args


def interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found (apt-get install -y wrk)", file=sys.stderr)
        return 2
    # SIGTERM (a CI timeout, say) and SIGINT (also when started in the background, which
    # ignores it) unwind like Ctrl-C, so the servers are stopped.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    results: list[Measured] = []
    rounds: dict[str, list[Run]] = {}
    try:
        args.bin = (args.bin or build()).resolve()
        if not args.bin.exists():
            raise SetupError(f"no binary at {args.bin}")
        print(f"# host: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
              f"{subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.splitlines()[0]}")
        print(f"# binary: {args.bin}")
        with tempfile.TemporaryDirectory(prefix="server-load-") as tmp:
            work = Path(tmp)
            try:
                # Servers left up for the rounds: ours on SQLite and the reference, each count.
                live: list[Live] | None = [] if args.rounds and not args.skip_reference else None
                print("changelog serve on SQLite", flush=True)
                results.append(run_ours("SQLite", f"sqlite://{work / 'bench.db'}?mode=rwc", args, work,
                                        keep=live))
                if not args.skip_postgres:
                    print("changelog serve on PostgreSQL", flush=True)
                    results.append(run_ours_postgres(args, work))
                if not args.skip_reference:
                    print(f"FastAPI reference ({args.reference})", flush=True)
                    results += run_reference(args, work, keep=live)
                if live:
                    print(f"interleaved rounds: GET at {max(args.conns)} connections, "
                          f"{', '.join(server.name for server in live)} in turn", flush=True)
                    rounds = paired_rounds(live, args, work)
            finally:
                # Before the directory goes: the servers kept for the rounds use its files.
                PROCS.stop_all()
    except (SetupError, subprocess.CalledProcessError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        PROCS.stop_all()
    report(results, rounds, args)
    ours = [r for m in results if m.name.startswith("changelog") for r in m.runs]
    ours += rounds.get("changelog (SQLite)", [])
    failed = [r for r in ours if r.errors]
    for r in failed:
        print(f"error: {r.server} {r.scenario} c{r.conns}: {r.socket_errors} socket errors, "
              f"{r.non2xx} non-2xx answers (first {r.first_bad})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
