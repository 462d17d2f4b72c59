#!/usr/bin/env python3
"""Times `changelog.generate` from Python against the `changelog` binary and against a
straightforward pure-Python changelog over `git log`, on the same synthetic history.

The repository is the one generate_vs_git_log.py builds (N commits, 20,000 by default, written
with `git fast-import`). Three ways to the same JSON changelog of the whole history, in the same
run and alternating, each in a fresh process per run:

  binary     changelog generate --repo R --format json > /dev/null     (wall time of the process)
  binding    changelog.generate(repo_url=R).to_json(), written to /dev/null, in a Python process
             that has imported the module (the call is timed; interpreter start-up is not)
  process    the same call in `python -c`, timed as a whole: interpreter start-up, import, the
             call, writing the JSON and exit (what a one-shot script pays)
  python     git log, parsed, grouped and dumped as JSON by the pure-Python code below: what
             callers of the old Python generator ran (the call is timed, `git log` included)

It reports median and minimum times, each way's peak resident memory, the binding's overhead
over the binary (the call; target <= 1.2x), the whole Python process's, and the binding's
speed-up over the pure-Python code.

Usage (with the wheel installed in the interpreter that runs this script):
  python benches/python_generate.py [--commits N] [--runs K] [--bin PATH] [--check]

Without --bin the release binary is built first. --check exits 1 above 1.2x.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_vs_git_log import ROOT, make_repo  # noqa: E402

# --- the pure-Python reference: what a Python changelog generator does ----------------------

HEADER = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]+)\))?(?P<bang>!)?: (?P<text>.+)$")
REFERENCE = re.compile(r"(?:^|[\s(])#(\d+)\b")
TRAILER = re.compile(r"^(?P<key>[A-Za-z-]+): (?P<value>.+)$")
AUTHOR = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^>]*)>$")
SECTIONS = ["Breaking Changes", "Features", "Bug Fixes", "Performance", "Refactoring",
            "Documentation", "Reverts", "Other", "Styling", "Tests", "Build System",
            "Continuous Integration", "Chores"]
TYPES = {"feat": "feature", "feature": "feature", "fix": "fix", "bugfix": "fix", "perf": "perf",
         "refactor": "refactor", "docs": "docs", "doc": "docs", "revert": "revert",
         "style": "style", "test": "test", "tests": "test", "build": "build", "ci": "ci",
         "chore": "chore"}
VERBS = {"add": "feature", "implement": "feature", "introduce": "feature", "support": "feature",
         "improve": "feature", "fix": "fix", "resolve": "fix", "correct": "fix",
         "optimize": "perf", "speed": "perf", "refactor": "refactor", "rework": "refactor",
         "rewrite": "refactor", "document": "docs", "update": "other", "remove": "other"}
SECTION_OF = {"feature": 1, "fix": 2, "perf": 3, "refactor": 4, "docs": 5, "revert": 6,
              "other": 7, "style": 8, "test": 9, "build": 10, "ci": 11, "chore": 12}


def classify_plain(summary: str) -> str:
    word = summary.split(" ", 1)[0].lower().strip(".,:;!")
    for candidate in (word, word[:-1], word[:-2], word[:-3]):
        if candidate in VERBS:
            return VERBS[candidate]
    return "other"


def python_changelog(repo: str) -> str:
    """A changelog of the whole history, as JSON: `git log` parsed and grouped in Python."""
    log = subprocess.run(
        ["git", "-C", repo, "log", "--format=%H%x00%P%x00%an%x00%ae%x00%B%x1e"],
        check=True, capture_output=True, text=True,
    ).stdout
    sections: list[list[dict]] = [[] for _ in SECTIONS]
    seen: dict[tuple, dict] = {}
    stats = {"commits": 0, "entries": 0, "merges": 0, "fixups": 0}
    for record in reversed(log.split("\x1e")):
        record = record.strip("\n")
        if not record:
            continue
        commit, parents, name, email, message = record.split("\x00", 4)
        stats["commits"] += 1
        if " " in parents:
            stats["merges"] += 1
            continue
        lines = message.strip().splitlines()
        summary = lines[0].strip() if lines else ""
        if summary.startswith(("fixup!", "squash!")):
            stats["fixups"] += 1
            continue
        authors = [{"name": name, "email": email}]
        breaking_notes = []
        refs = REFERENCE.findall(summary)
        for line in lines[1:]:
            trailer = TRAILER.match(line.strip())
            if trailer is None:
                continue
            key, value = trailer.group("key").lower(), trailer.group("value")
            if key == "co-authored-by" and (person := AUTHOR.match(value)):
                authors.append({"name": person.group("name"), "email": person.group("email")})
            elif key in ("closes", "fixes", "refs"):
                refs.extend(REFERENCE.findall(" " + value))
        if "BREAKING CHANGE: " in message:
            breaking_notes.append(message.split("BREAKING CHANGE: ", 1)[1].split("\n")[0])
        header = HEADER.match(summary)
        if header:
            kind = TYPES.get(header.group("type").lower()) or classify_plain(header.group("text"))
            scope, text = header.group("scope"), header.group("text")
            breaking = bool(header.group("bang")) or bool(breaking_notes)
        else:
            kind, scope, text, breaking = classify_plain(summary), None, summary, bool(
                breaking_notes)
        text = re.sub(r"\s*\(#\d+\)$", "", text)
        section = 0 if breaking else SECTION_OF[kind]
        key = (section, scope, text.lower())
        if key in seen:
            seen[key]["commits"].append(commit)
            continue
        entry = {"text": text, "commits": [commit], "breaking": breaking, "scope": scope,
                 "refs": [f"#{n}" for n in dict.fromkeys(refs)], "authors": authors,
                 "kind": kind}
        if breaking_notes:
            entry["breaking_notes"] = breaking_notes
        seen[key] = entry
        sections[section].append(entry)
    stats["entries"] = len(seen)
    document = {
        "title": "Changelog", "version": None, "style": "conventional",
        "sections": [{"title": SECTIONS[i], "entries": entries}
                     for i, entries in enumerate(sections) if entries],
        "stats": stats,
    }
    return json.dumps(document, indent=2) + "\n"


# --- the workers: one timed call in a fresh process -----------------------------------------

ONE_SHOT = ("import sys, changelog; "
            "sys.stdout.write(changelog.generate(repo_url=sys.argv[1], allow_local=True).to_json())")

def cpu_seconds() -> float:
    """User and system time of this process (all its threads) and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one process, its output to /dev/null."""
    with open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        assert process.stderr is not None
        error = process.stderr.read().decode(errors="replace")
        process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed: {error}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def worker(kind: str, repo: str) -> None:
    if kind == "check":
        # The binding and the pure-Python code read the same commits.
        import changelog

        document = changelog.generate(repo_url=repo, allow_local=True).to_dict()
        reference = json.loads(python_changelog(repo))
        assert document["stats"]["commits"] == reference["stats"]["commits"], "not the same"
        print(json.dumps({"commits": document["stats"]["commits"]}))
        return
    if kind == "binding":
        import changelog

        cpu, start = cpu_seconds(), time.perf_counter()
        text = changelog.generate(repo_url=repo, allow_local=True).to_json()
    else:
        cpu, start = cpu_seconds(), time.perf_counter()
        text = python_changelog(repo)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        sink.write(text)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "rss_mib": peak / 1024.0}))


def timed_worker(kind: str, repo: Path) -> tuple[float, float, float]:
    """Wall and CPU seconds of the timed call, and the worker's peak RSS (MiB)."""
    done = subprocess.run([sys.executable, __file__, "--worker", kind, "--repo", str(repo)],
                          check=True, capture_output=True, text=True)
    report = json.loads(done.stdout)
    return report["seconds"], report["cpu"], report["rss_mib"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--bin", type=Path, help="the changelog binary (default: build release)")
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    parser.add_argument("--check", action="store_true", help="fail above 1.2x the binary")
    parser.add_argument("--worker", choices=["binding", "python", "check"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--repo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.repo)
        return 0

    binary = args.bin
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "changelog-http"],
                       cwd=ROOT, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        binary = target / "release" / "changelog"

    workdir = Path(tempfile.mkdtemp(prefix="changelog-bench-"))
    repo = args.keep or workdir / "repo"
    try:
        if not (repo / ".git").exists():
            make_repo(repo, args.commits)
        # Everything Python runs goes to subprocesses: a child's peak RSS includes what it
        # inherits from this process when forked, so this one stays small.
        checked = subprocess.run([sys.executable, __file__, "--worker", "check", "--repo",
                                  str(repo)], check=True, capture_output=True, text=True)
        commits = json.loads(checked.stdout)["commits"]

        ways = {
            "changelog generate --format json (binary)":
                lambda: run([str(binary), "generate", "--repo", str(repo), "--format", "json"]),
            "changelog.generate(...).to_json() (binding)": lambda: timed_worker("binding", repo),
            "pure Python over git log": lambda: timed_worker("python", repo),
            "python -c '...generate(...).to_json()' (process)":
                lambda: run([sys.executable, "-c", ONE_SHOT, str(repo)]),
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        memory = dict.fromkeys(ways, 0.0)
        for measure in ways.values():  # warm the page cache once
            measure()
        for _ in range(args.runs):
            for name, measure in ways.items():
                seconds, cpu_used, rss = measure()
                times[name].append(seconds)
                cpu[name].append(cpu_used)
                memory[name] = max(memory[name], rss)

        print(f"{commits} commits, {args.runs} alternating runs each, medians")
        print(f"{'way':50} {'median ms':>10} {'min ms':>8} {'CPU ms':>8} {'peak RSS MiB':>13}")
        for name in ways:
            print(f"{name:50} {statistics.median(times[name]) * 1000:10.1f} "
                  f"{min(times[name]) * 1000:8.1f} {statistics.median(cpu[name]) * 1000:8.1f} "
                  f"{memory[name]:13.1f}")
        binary, binding, python, process = (statistics.median(times[n]) for n in ways)
        binary_cpu, binding_cpu, python_cpu, process_cpu = (statistics.median(cpu[n])
                                                            for n in ways)
        overhead = binding / binary
        print(f"binding / binary: {overhead:.2f}x wall, {binding_cpu / binary_cpu:.2f}x CPU "
              "(target <= 1.2x)")
        print(f"whole Python process / binary: {process / binary:.2f}x wall, "
              f"{process_cpu / binary_cpu:.2f}x CPU")
        print(f"speed-up of the binding over pure Python: {python / binding:.1f}x wall, "
              f"{python_cpu / binding_cpu:.1f}x CPU")
        if args.check and overhead > 1.2:
            return 1
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
