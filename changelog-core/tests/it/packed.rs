//! Trees read from pack files without libgit2 hold against libgit2's reading: every tree of
//! deltified packs, histories with loose and packed objects, damaged packs.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use changelog_core::files::Files;
use changelog_core::source::git::GitSource;
use changelog_core::testing::{PackedEntry, PackedReader, TestRepo};
use changelog_core::{History, RangeQuery};
use git2::{ObjectType, Oid, Repository};
use pretty_assertions::assert_eq;

/// Whether `git` runs here (the packs are made with it).
#[expect(clippy::print_stderr, reason = "a skipped test says so")]
fn have_git() -> bool {
    if Command::new("git").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "git is needed for this test in CI"
    );
    eprintln!("skipped: no git on PATH to pack with");
    false
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?} failed");
}

fn git_output(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Packs every object, trees deltified against each other, and removes the loose ones.
fn pack(dir: &Path) {
    git(dir, &["repack", "-adf", "--depth=50", "--window=250", "-q"]);
}

/// Commits `count` times, from commit number `from`, changing a few files of a tree several
/// levels deep each time; the messages leave the kind open, so the files decide.
fn grow(repo: &mut TestRepo, from: usize, count: usize) {
    const FILES: &[&str] = &[
        "src/engine/core/lib.rs",
        "src/engine/core/parse.rs",
        "src/engine/io/read.rs",
        "src/cli/main.rs",
        "tests/engine/parse.rs",
        "tests/cli.rs",
        "docs/guide/intro.md",
        "docs/guide/usage.md",
        ".github/workflows/ci.yml",
        "Cargo.lock",
        "README.md",
        "crates/extra/tests/it/main.rs",
    ];
    for n in from..from + count {
        // Some constant files, so that trees are large enough to be worth deltas.
        if n == 0 {
            for i in 0..40 {
                repo.write(&format!("src/engine/core/gen/m{i:02}.rs"), "// generated\n");
                repo.write(&format!("assets/a{i:02}.txt"), "asset\n");
            }
        }
        // Every other commit changes one file only (then of one sort).
        let step = if n % 2 == 0 { 0 } else { 5 };
        let touched: Vec<(&str, String)> = (0..=n % 3)
            .map(|k| {
                let file = FILES[(n * 7 + k * step) % FILES.len()];
                (file, format!("// {n} {k}\n"))
            })
            .collect();
        let files: Vec<(&str, &str)> = touched.iter().map(|(f, c)| (*f, c.as_str())).collect();
        if n % 17 == 5 && repo.path().join("src/cli/main.rs").exists() {
            repo.remove("src/cli/main.rs");
        }
        #[cfg(unix)]
        if n % 13 == 4 {
            use std::os::unix::fs::PermissionsExt;
            // A change of mode alone.
            let path = repo.path().join("README.md");
            if path.exists() {
                let mode = if n % 26 == 4 { 0o755 } else { 0o644 };
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
                repo.commit_files(&format!("Update {n}"), &[]);
                continue;
            }
        }
        repo.commit_files(&format!("Update {n}"), &files);
    }
}

/// Each commit's summary and the sort of its files, newest first.
fn classified(path: &Path, paths: &[&str]) -> Vec<(String, Option<Files>)> {
    let history: History = GitSource::open(path)
        .expect("open")
        .read(&RangeQuery {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            ..RangeQuery::default()
        })
        .expect("read");
    history
        .commits
        .into_iter()
        .map(|c| (c.summary, c.files))
        .collect()
}

/// Every tree reachable from every commit of `HEAD`, each once.
fn all_trees(repo: &Repository) -> Vec<Oid> {
    let mut walk = repo.revwalk().unwrap();
    walk.push_head().unwrap();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<Oid> = walk
        .map(|c| repo.find_commit(c.unwrap()).unwrap().tree_id())
        .collect();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        out.push(id);
        let tree = repo.find_tree(id).unwrap();
        stack.extend(
            tree.iter()
                .filter(|e| e.kind() == Some(ObjectType::Tree))
                .map(|e| e.id()),
        );
    }
    out
}

/// A tree as libgit2 reads it.
fn libgit2_tree(repo: &Repository, id: Oid) -> Vec<PackedEntry> {
    repo.find_tree(id)
        .unwrap()
        .iter()
        .map(|e| {
            (
                e.name_bytes().to_vec(),
                e.filemode(),
                e.id(),
                e.kind() == Some(ObjectType::Tree),
            )
        })
        .collect()
}

/// The ids of the trees stored as deltas in the repository's packs (`git verify-pack -v`).
fn deltified_trees(dir: &Path) -> usize {
    let pack_dir = dir.join(".git/objects/pack");
    let mut count = 0;
    for entry in fs::read_dir(pack_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "idx") {
            let output = Command::new("git")
                .arg("verify-pack")
                .arg("-v")
                .arg(&path)
                .output()
                .unwrap();
            // `<id> tree <size> <size in pack> <offset> <depth> <base id>` for a delta.
            count += String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|l| {
                    let fields: Vec<&str> = l.split_whitespace().collect();
                    fields.len() == 7 && fields[1] == "tree"
                })
                .count();
        }
    }
    count
}

#[test]
fn every_packed_tree_reads_as_libgit2_reads_it() {
    if !have_git() {
        return;
    }
    let mut repo = TestRepo::new();
    grow(&mut repo, 0, 150);
    pack(repo.path());
    let deltas = deltified_trees(repo.path());
    assert!(deltas > 50, "only {deltas} trees are deltas");
    let git = Repository::open(repo.path()).unwrap();
    let trees = all_trees(&git);
    assert!(trees.len() > 300, "{} trees", trees.len());
    // Packs read whole into memory, and entry by entry from their files.
    for open in [PackedReader::open, PackedReader::open_from_files] {
        let mut reader = open(&git).expect("packs");
        for &id in &trees {
            assert_eq!(reader.tree(id), Some(libgit2_tree(&git, id)), "tree {id}");
        }
        // Again, from a fresh reader, oldest first (bases read after their deltas).
        let mut reader = open(&git).expect("packs");
        for &id in trees.iter().rev() {
            assert_eq!(reader.tree(id), Some(libgit2_tree(&git, id)));
        }
    }
    let mut reader = PackedReader::open(&git).expect("packs");
    // Not a tree, or in no pack.
    let head = git.head().unwrap().target().unwrap();
    assert_eq!(reader.tree(head), None);
    assert_eq!(reader.tree(Oid::from_bytes(&[0xab; 20]).unwrap()), None);
}

#[test]
fn every_packed_commit_reads_as_libgit2_reads_it() {
    if !have_git() {
        return;
    }
    let mut repo = TestRepo::new();
    grow(&mut repo, 0, 80);
    pack(repo.path());
    let git = Repository::open(repo.path()).unwrap();
    let mut walk = git.revwalk().unwrap();
    walk.push_head().unwrap();
    let commits: Vec<Oid> = walk.map(Result::unwrap).collect();
    assert!(commits.len() >= 80, "{} commits", commits.len());
    for open in [PackedReader::open, PackedReader::open_from_files] {
        let mut reader = open(&git).expect("packs");
        for &id in &commits {
            let odb = git.odb().unwrap();
            let object = odb.read(id).unwrap();
            assert_eq!(
                reader.commit(id).as_deref(),
                Some(object.data()),
                "commit {id}"
            );
        }
        // A tree is not a commit, nor a commit a tree.
        let head = git.find_commit(commits[0]).unwrap();
        assert_eq!(reader.commit(head.tree_id()), None);
        assert_eq!(reader.tree(commits[0]), None);
    }
}

#[test]
fn modes_libgit2_normalises_read_the_same() {
    if !have_git() {
        return;
    }
    let mut repo = TestRepo::new();
    repo.commit_files("Start", &[("a.txt", "a\n")]);
    let git = Repository::open(repo.path()).unwrap();
    let blob = git.blob(b"x\n").unwrap();
    // Modes older git wrote (100664, zero-padded 040000): libgit2 shows them normalised.
    let mut raw = Vec::new();
    for (mode, name) in [
        ("100664", "a"),
        ("100755", "b"),
        ("100700", "c"),
        ("120000", "d"),
    ] {
        raw.extend_from_slice(format!("{mode} {name}\0").as_bytes());
        raw.extend_from_slice(blob.as_bytes());
    }
    let inner = git.odb().unwrap().write(ObjectType::Tree, &raw).unwrap();
    raw.extend_from_slice(b"040000 e\0");
    raw.extend_from_slice(inner.as_bytes());
    let outer = git.odb().unwrap().write(ObjectType::Tree, &raw).unwrap();
    // Keep them reachable through a commit, so that the repack keeps them.
    let tree = git.find_tree(outer).unwrap();
    let sig = git.signature().unwrap_or_else(|_| {
        git2::Signature::new("Ada", "ada@example.com", &git2::Time::new(1, 0)).unwrap()
    });
    let parent = git.head().unwrap().peel_to_commit().unwrap();
    git.commit(Some("HEAD"), &sig, &sig, "Odd modes", &tree, &[&parent])
        .unwrap();
    pack(repo.path());
    let git = Repository::open(repo.path()).unwrap();
    let mut reader = PackedReader::open(&git).expect("packs");
    for id in [inner, outer] {
        let read = reader.tree(id).expect("packed");
        assert_eq!(read, libgit2_tree(&git, id));
    }
    assert_eq!(reader.tree(outer).unwrap()[0].1, 0o100_644);
}

/// Three repositories with one history: never packed, packed whole, packed halfway (the later
/// commits loose).
fn twins() -> [TestRepo; 3] {
    let mut twins = [TestRepo::new(), TestRepo::new(), TestRepo::new()];
    for (i, repo) in twins.iter_mut().enumerate() {
        grow(repo, 0, 60);
        if i == 2 {
            pack(repo.path());
        }
        grow(repo, 60, 60);
        if i == 1 {
            pack(repo.path());
        }
    }
    twins
}

#[test]
fn loose_packed_and_mixed_histories_classify_alike() {
    if !have_git() {
        return;
    }
    let [loose, packed, mixed] = twins();
    assert_eq!(loose.head(), packed.head(), "the twins have one history");
    let expected = classified(loose.path(), &[]);
    let sorted = expected.iter().filter(|(_, f)| f.is_some()).count();
    assert!(sorted > 20, "{sorted} commits sorted by their files");
    assert_eq!(classified(packed.path(), &[]), expected);
    assert_eq!(classified(mixed.path(), &[]), expected);
    // `--path` compares trees too.
    for paths in [
        &["docs"][..],
        &["src/engine/core/parse.rs"],
        &["README.md", "tests/cli.rs"],
        &["src/cli"],
    ] {
        let expected = classified(loose.path(), paths);
        assert!(!expected.is_empty());
        assert_eq!(classified(packed.path(), paths), expected, "{paths:?}");
        assert_eq!(classified(mixed.path(), paths), expected, "{paths:?}");
    }
}

/// Copies a repository's directory (a damaged copy leaves the original whole).
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn pack_file(dir: &Path, extension: &str) -> PathBuf {
    fs::read_dir(dir.join(".git/objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == extension))
        .expect("a pack")
}

/// A change to a file's bytes.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn damaged_packs_fall_back_and_never_panic() {
    if !have_git() {
        return;
    }
    let mut repo = TestRepo::new();
    grow(&mut repo, 0, 40);
    pack(repo.path());
    let git = Repository::open(repo.path()).unwrap();
    let trees: Vec<(Oid, Vec<PackedEntry>)> = all_trees(&git)
        .into_iter()
        .map(|id| (id, libgit2_tree(&git, id)))
        .collect();
    let length = fs::metadata(pack_file(repo.path(), "pack")).unwrap().len();
    let scratch = tempfile::tempdir().unwrap();
    let mut damages: Vec<(&str, Damage)> = Vec::new();
    // Bytes flipped all over the pack, a few at a time.
    for k in 0..24u64 {
        let at = usize::try_from(12 + (length - 32) * k / 24).unwrap();
        damages.push((
            "pack",
            Box::new(move |bytes: &mut Vec<u8>| {
                let end = (at + 3).min(bytes.len());
                for b in &mut bytes[at..end] {
                    *b ^= 0x5a;
                }
            }),
        ));
    }
    damages.push((
        "pack",
        Box::new(|bytes: &mut Vec<u8>| bytes.truncate(bytes.len() / 2)),
    ));
    damages.push(("pack", Box::new(|bytes: &mut Vec<u8>| bytes.truncate(40))));
    // Offsets, names and the fan-out of the index.
    damages.push((
        "idx",
        Box::new(|bytes: &mut Vec<u8>| {
            let n = bytes.len();
            for b in &mut bytes[n - 200..n - 60] {
                *b = 0xff;
            }
        }),
    ));
    damages.push((
        "idx",
        Box::new(|bytes: &mut Vec<u8>| {
            for b in &mut bytes[1032..1200] {
                *b ^= 0xff;
            }
        }),
    ));
    damages.push((
        "idx",
        Box::new(|bytes: &mut Vec<u8>| {
            bytes[8 + 4 * 100..8 + 4 * 101].copy_from_slice(&[0xff; 4]);
        }),
    ));
    damages.push(("idx", Box::new(|bytes: &mut Vec<u8>| bytes.truncate(1000))));
    let (mut read_whole, mut refused) = (0, 0);
    for (i, (which, damage)) in damages.iter().enumerate() {
        let copy = scratch.path().join(format!("copy{i}"));
        copy_dir(repo.path(), &copy);
        let file = pack_file(&copy, which);
        let mut bytes = fs::read(&file).unwrap();
        damage(&mut bytes);
        fs::write(&file, bytes).unwrap();
        let damaged = Repository::open(&copy).unwrap();
        for open in [PackedReader::open, PackedReader::open_from_files] {
            let Some(mut reader) = open(&damaged) else {
                continue;
            };
            for (id, entries) in &trees {
                // What the reader gives at all is right: it checks each tree's id.
                match reader.tree(*id) {
                    Some(read) => {
                        assert_eq!(&read, entries, "damage {i}, tree {id}");
                        read_whole += 1;
                    }
                    None => refused += 1,
                }
            }
        }
        // The whole source: an answer or an error from libgit2, never a panic.
        let read = GitSource::open(&copy).and_then(|source| source.read(&RangeQuery::default()));
        drop(read);
    }
    // The damage was seen, and did not stop the reading of what it left whole.
    assert!(
        refused > 0 && read_whole > 0,
        "{refused} refused, {read_whole} read"
    );
}

/// A history long enough that the walk reads its commits from the pack (past the first few,
/// which it reads with libgit2), with messages of every shape, imported by `git fast-import`.
fn long_history(dir: &Path, commits: usize) {
    git(dir, &["init", "-q", "-b", "main"]);
    let mut stream = String::new();
    for n in 0..commits {
        let message = match n % 6 {
            0 => format!("feat(core): add thing {n}\n\nWith a body.\n\nCloses #{n}\n"),
            1 => format!("\n\nfix: leading blank lines {n}\n"),
            2 => format!("Merge-like subject {n}\n\nSigned-off-by: A <a@example.com>\n"),
            3 => format!("docs: ünïcödé {n} — ok\n"),
            4 => format!("chore: no trailing newline {n}"),
            _ => format!("refactor: tabs\tand  spaces {n}\n\n\n"),
        };
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{mark}\n\
             author Ada Lovelace <ada@example.com> {time} +0100\n\
             committer Bob <bob@example.com> {time} -0530\n\
             data {len}\n{message}\n\
             M 644 inline file{file}.txt\ndata <<END\nline {n}\nEND\n\n",
            mark = n + 1,
            time = 1_700_000_000 + n * 60,
            len = message.len(),
            file = n % 7,
        ));
    }
    let mut child = Command::new("git")
        .args(["-C", dir.to_str().unwrap(), "fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), stream.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn long_packed_and_loose_histories_read_alike() {
    if !have_git() {
        return;
    }
    let packed = tempfile::tempdir().unwrap();
    long_history(packed.path(), 400);
    // The same objects, loose.
    let loose = tempfile::tempdir().unwrap();
    git(loose.path(), &["init", "-q", "-b", "main"]);
    let pack = fs::read(pack_file(packed.path(), "pack")).unwrap();
    let mut child = Command::new("git")
        .args(["-C", loose.path().to_str().unwrap(), "unpack-objects", "-q"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &pack).unwrap();
    assert!(child.wait().unwrap().success());
    let head = git_output(packed.path(), &["rev-parse", "HEAD"]);
    git(
        loose.path(),
        &["update-ref", "refs/heads/main", head.trim()],
    );
    let read = |path: &Path| -> History {
        GitSource::open(path)
            .expect("open")
            .read(&RangeQuery::default())
            .expect("read")
    };
    let (from_pack, from_loose) = (read(packed.path()), read(loose.path()));
    assert_eq!(from_pack.commits.len(), 400);
    assert_eq!(from_pack.commits, from_loose.commits);
}
