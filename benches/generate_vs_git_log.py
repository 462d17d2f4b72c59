#!/usr/bin/env python3
"""Times `changelog generate --format json` against `git log` over a synthetic history.

Builds a repository of N commits (20,000 by default) with `git fast-import`: Conventional and
plain messages, bodies, footers, co-authors, and a pull-request merge every tenth commit (shape
`linear`), or every commit of main a merge of a pull request of 1 to 20 commits, about one
commit in three a merge, as large GitHub projects have (shape `merge-heavy`). Then it times, in
the same run and alternating between the two, over the whole history:

  - changelog generate --repo R --format json      (the engine: read, parse, group, render)
  - git log --format=%H%x00%an%x00%at%x00%B        (the floor: git only reads and prints)

and reports the median wall times, their ratio, and each command's peak resident memory
(from wait4's rusage). Both commands write to /dev/null.

Usage:
  python3 benches/generate_vs_git_log.py [--shape linear|merge-heavy] [--commits N] [--runs K]
                                         [--bin PATH] [--check] [--group-by pr|commit]
                                         [--words-only] [--path PATH] [--keep DIR]

Without --bin the release binary is built first (cargo build --release -p changelog-http).
With --check the exit status is 1 when the ratio exceeds 2.0 or memory exceeds 200 MB.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPES = ["feat", "fix", "fix", "docs", "refactor", "perf", "test", "chore", "ci", "build"]
SCOPES = [None, None, "api", "cli", "parser", "store", "ui", "auth", "config"]
WORDS = (
    "cache parser config loader retry timeout buffer stream index token session user "
    "request response handler router worker queue schema migration template render"
).split()
PLAIN = ["Add", "Fix", "Remove", "Improve", "Update", "Refactor", "Document", "Rework"]


def message(rng: random.Random, n: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
    if rng.random() < 0.2:
        summary = f"{rng.choice(PLAIN)} {words}"
    else:
        kind = rng.choice(TYPES)
        scope = rng.choice(SCOPES)
        bang = "!" if rng.random() < 0.01 else ""
        summary = f"{kind}({scope}){bang}: {words}" if scope else f"{kind}{bang}: {words}"
    if rng.random() < 0.1:
        summary += f" (#{n})"
    parts = [summary]
    if rng.random() < 0.5:
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 60)))
        parts.append(body)
    footers = []
    if rng.random() < 0.1:
        footers.append(f"Closes #{rng.randint(1, 5000)}")
    if rng.random() < 0.05:
        footers.append("Co-authored-by: Grace Hopper <grace@example.com>")
    if rng.random() < 0.01:
        footers.append("BREAKING CHANGE: the " + rng.choice(WORDS) + " format changed")
    if footers:
        parts.append("\n".join(footers))
    return "\n\n".join(parts) + "\n"


def changed_path(rng: random.Random, msg: str, source: str) -> str:
    """The file a commit changes: tests, docs and CI commits change such files, plain messages
    do a quarter of the time (tests) and a sixth (docs), everything else changes `source`."""
    kind = msg.split("(", 1)[0].split(":", 1)[0].rstrip("!")
    roll = rng.random()
    if kind == "test" or (kind not in TYPES and roll < 0.25):
        return f"tests/{rng.choice(WORDS)}.rs"
    if kind == "docs" or (kind not in TYPES and roll < 0.4):
        return f"docs/{rng.choice(WORDS)}.md"
    if kind == "ci":
        return f".github/workflows/{rng.choice(WORDS)}.yml"
    return source


def data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def pull_request_size(rng: random.Random) -> int:
    """1 to 20 commits, most pull requests small: 2.2 on average, so a merge is one in 3.2."""
    roll = rng.random()
    if roll < 0.72:
        return 1
    if roll < 0.92:
        return rng.randint(2, 3)
    return rng.randint(4, 20)


def fast_import_stream(commits: int, seed: int = 7, shape: str = "linear") -> bytes:
    """A fast-import stream: main gets a merge of a 3-commit branch every tenth commit
    (`linear`), or is made only of merges of pull requests of 1 to 20 commits (`merge-heavy`)."""
    rng = random.Random(seed)
    out = bytearray()
    when = 1_600_000_000
    mark = 0
    main_tip = None
    authors = [("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com"),
               ("Linus T", "linus@example.com"), ("Margaret H", "margaret@example.com")]

    def commit(ref: str, parent, merge, msg: str, files) -> int:
        nonlocal mark, when
        mark += 1
        when += 60
        name, email = rng.choice(authors)
        out.extend(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
        out.extend(b"author %s <%s> %d +0000\n" % (name.encode(), email.encode(), when))
        out.extend(b"committer %s <%s> %d +0000\n" % (name.encode(), email.encode(), when))
        out.extend(data(msg))
        if parent is not None:
            out.extend(b"from :%d\n" % parent)
        if merge is not None:
            out.extend(b"merge :%d\n" % merge)
        for path, content in files:
            out.extend(b"M 100644 inline %s\n" % path.encode())
            out.extend(data(content))
        out.extend(b"\n")
        return mark

    made = 0
    pr = 0
    while made < commits:
        if shape == "merge-heavy" and (main_tip is None or commits - made < 2):
            msg = message(rng, made)
            path = changed_path(rng, msg, f"crates/{rng.choice(WORDS)}/src/{rng.choice(WORDS)}.rs")
            main_tip = commit("refs/heads/main", main_tip, None, msg, [(path, f"// {made}\n")])
            made += 1
        elif shape == "merge-heavy":
            pr += 1
            size = min(pull_request_size(rng), commits - made - 1)
            tip = main_tip
            changed = []
            first = None
            for _ in range(size):
                msg = message(rng, made)
                path = changed_path(rng, msg, f"src/{rng.choice(WORDS)}/{rng.choice(WORDS)}.rs")
                content = f"// {made}\n"
                first = first or msg.split("\n", 1)[0]
                tip = commit("refs/heads/topic", tip, None, msg, [(path, content)])
                changed.append((path, content))
                made += 1
            # Half the merges by GitHub's button, half by a merge queue (`Title (#N)`).
            title = f"Merge pull request #{pr} from octo/topic-{pr}\n\n{first}\n"
            if pr % 2 == 0:
                title = f"{first} (#{pr})\n"
            main_tip = commit("refs/heads/main", main_tip, tip, title, changed)
            made += 1
        elif made % 10 == 9 and main_tip is not None and commits - made >= 4:
            # A pull request: three commits on a branch, then the merge on main.
            pr += 1
            tip = main_tip
            changed = []
            for _ in range(3):
                msg = message(rng, made)
                path = changed_path(rng, msg, f"src/{rng.choice(WORDS)}/{rng.choice(WORDS)}.rs")
                content = f"// {made}\n"
                tip = commit("refs/heads/topic", tip, None, msg, [(path, content)])
                changed.append((path, content))
                made += 1
            main_tip = commit("refs/heads/main", main_tip, tip,
                              f"Merge pull request #{pr} from octo/topic-{pr}\n\nTopic {pr}\n", changed)
            made += 1
        else:
            msg = message(rng, made)
            path = changed_path(rng, msg, f"crates/{rng.choice(WORDS)}/src/{rng.choice(WORDS)}.rs")
            main_tip = commit("refs/heads/main", main_tip, None, msg, [(path, f"// {made}\n")])
            made += 1
    out.extend(b"reset refs/heads/topic\nfrom 0000000000000000000000000000000000000000\n\n")
    return bytes(out)


def make_repo(path: Path, commits: int, shape: str = "linear") -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"],
                   input=fast_import_stream(commits, shape=shape), check=True)
    count = subprocess.run(["git", "-C", str(path), "rev-list", "--count", "HEAD"],
                           check=True, capture_output=True, text=True).stdout.strip()
    print(f"synthetic repository: {count} commits at {path}", file=sys.stderr)


def run(argv: list) -> tuple:
    """Wall seconds and peak RSS (MiB) of one run, output to /dev/null."""
    with open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err}")
    return elapsed, usage.ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--bin", type=Path, help="the changelog binary (default: build release)")
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    parser.add_argument("--check", action="store_true", help="fail above 2.0x or 200 MB")
    parser.add_argument("--shape", choices=["linear", "merge-heavy"], default="linear")
    parser.add_argument("--group-by", choices=["pr", "commit"], default="pr")
    parser.add_argument("--words-only", action="store_true",
                        help="classify by messages alone (no look at the files commits change)")
    parser.add_argument("--path", help="time a path-filtered history (git log -- PATH)")
    args = parser.parse_args()

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
            make_repo(repo, args.commits, args.shape)
        ours = [str(binary), "generate", "--repo", str(repo), "--format", "json",
                "--group-by", args.group_by]
        theirs = ["git", "-C", str(repo), "log", "--format=%H%x00%an%x00%at%x00%B"]
        if args.words_only:
            ours.append("--words-only")
        if args.path:
            ours += ["--path", args.path]
            theirs += ["--", args.path]
        commands = {
            "changelog generate --format json": ours,
            "git log --format=%H%x00%an%x00%at%x00%B": theirs,
        }
        times = {name: [] for name in commands}
        memory = {name: 0.0 for name in commands}
        for name, argv in commands.items():  # warm the page cache once
            run(argv)
        for _ in range(args.runs):
            for name, argv in commands.items():
                elapsed, rss = run(argv)
                times[name].append(elapsed)
                memory[name] = max(memory[name], rss)

        print(f"{'command':45} {'median ms':>10} {'min ms':>8} {'peak RSS MiB':>13}")
        for name in commands:
            print(f"{name:45} {statistics.median(times[name]) * 1000:10.1f} "
                  f"{min(times[name]) * 1000:8.1f} {memory[name]:13.1f}")
        names = list(commands)
        ratio = statistics.median(times[names[0]]) / statistics.median(times[names[1]])
        print(f"ratio (median changelog / median git log): {ratio:.2f}x (target <= 2.0x)")
        print(f"changelog peak memory: {memory[names[0]]:.1f} MiB (target < 200 MB)")
        if args.check and (ratio > 2.0 or memory[names[0]] * 1.048576 >= 200):
            return 1
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
