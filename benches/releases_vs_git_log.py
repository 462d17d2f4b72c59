#!/usr/bin/env python3
"""Times release changelogs on a tag-dense history against `git log`, in the same run.

Builds the synthetic history of generate_vs_git_log.py (20,000 commits by default), then tags
every other commit as a release (`v1.0.0`, `v1.0.1`, ...: 10,000
tags, one in twenty annotated, packed as `git gc` packs them), or only --tags of them evenly
spaced. Then it times, alternating between the commands:

  - git log --format=%H%x00%an%x00%at%x00%B           (the floor: git reads and prints)
  - changelog generate --releases all --format json   (one section per release)
  - changelog generate --latest --format json         (the latest release only)
  - changelog generate --range ..HEAD --format json   (one range over the whole history)

and reports median wall times, ratios to git log and peak resident memory. With --tags 30,0
the same is measured on the same commits with 30 tags, then with none.

Usage:
  python3 benches/releases_vs_git_log.py [--commits N] [--tags K[,K...]] [--runs R]
                                         [--bin PATH] [--check]

Without --bin the release binary is built first. With --check the exit status is 1 when a
target is missed: --releases all at most 2.5x git log and under 500 MB, --latest under 100 ms,
the range at most 1.5x git log.
"""

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("generate_vs_git_log",
                                               HERE / "generate_vs_git_log.py")
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)


def git(repo: Path, *args: str, stdin: str = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], input=stdin, check=True,
                          capture_output=True, text=True).stdout


def tag(repo: Path, count: int) -> int:
    """Tags `count` commits of the history, evenly spaced (every other commit at most), oldest
    first; one tag in twenty is annotated. Returns the number of tags."""
    for name in git(repo, "tag", "--list").split():
        git(repo, "tag", "-d", name)
    line = git(repo, "rev-list", "--topo-order", "--reverse", "HEAD").split()
    if count == 0:
        return 0
    step = max(2, len(line) // count)
    chosen = line[step - 1::step][:count]
    updates = []
    for i, oid in enumerate(chosen):
        name = f"v1.{i // 1000}.{i % 1000}"
        if i % 20 == 19:
            git(repo, "-c", "user.name=Release", "-c", "user.email=release@example.com",
                "tag", "-a", "-m", f"Release {name}", name, oid)
        else:
            updates.append(f"create refs/tags/{name} {oid}\n")
    git(repo, "update-ref", "--stdin", stdin="".join(updates))
    git(repo, "pack-refs", "--all")
    git(repo, "prune", "--expire=now")  # the tag objects of an earlier round
    return len(chosen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--tags", default="10000",
                        help="tag counts to measure, comma-separated (e.g. 10000,30)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--bin", type=Path, help="the changelog binary (default: build release)")
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    parser.add_argument("--check", action="store_true", help="fail when a target is missed")
    args = parser.parse_args()

    binary = args.bin
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "changelog-http"],
                       cwd=HERE.parent, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", HERE.parent / "target"))
        binary = target / "release" / "changelog"

    workdir = Path(tempfile.mkdtemp(prefix="changelog-releases-bench-"))
    repo = args.keep or workdir / "repo"
    failed = False
    try:
        if not (repo / ".git").exists():
            base.make_repo(repo, args.commits)
        for count in [int(c) for c in args.tags.split(",")]:
            made = tag(repo, count)
            ours = [str(binary), "generate", "--repo", str(repo), "--format", "json"]
            commands = {
                "git log": ["git", "-C", str(repo), "log", "--format=%H%x00%an%x00%at%x00%B"],
                "--releases all": ours + ["--releases", "all"],
                "--latest": ours + ["--latest"],
                "--range ..HEAD": ours + ["--range", "..HEAD"],
            }
            times = {name: [] for name in commands}
            memory = {name: 0.0 for name in commands}
            for argv in commands.values():  # warm the page cache once
                base.run(argv)
            for _ in range(args.runs):
                for name, argv in commands.items():
                    elapsed, rss = base.run(argv)
                    times[name].append(elapsed)
                    memory[name] = max(memory[name], rss)
            median = {name: statistics.median(t) * 1000 for name, t in times.items()}
            print(f"\n{args.commits} commits, {made} tags ({args.runs} runs)")
            print(f"{'command':18} {'median ms':>10} {'min ms':>8} {'x git log':>10} "
                  f"{'peak RSS MiB':>13}")
            for name in commands:
                print(f"{name:18} {median[name]:10.1f} {min(times[name]) * 1000:8.1f} "
                      f"{median[name] / median['git log']:10.2f} {memory[name]:13.1f}")
            all_ratio = median["--releases all"] / median["git log"]
            range_ratio = median["--range ..HEAD"] / median["git log"]
            print(f"targets: --releases all {all_ratio:.2f}x (<= 2.5x), "
                  f"{memory['--releases all']:.0f} MiB (< 500 MB); "
                  f"--latest {median['--latest']:.0f} ms (< 100 ms); "
                  f"range {range_ratio:.2f}x (<= 1.5x)")
            failed |= (all_ratio > 2.5 or memory["--releases all"] * 1.048576 >= 500
                       or median["--latest"] >= 100 or range_ratio > 1.5)
        return 1 if args.check and failed else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
