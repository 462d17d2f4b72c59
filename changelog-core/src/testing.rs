//! Real git repositories for tests, built with libgit2 in a temporary directory.
//!
//! Commit times are deterministic (one minute apart from a fixed instant), so ids, and with
//! them rendered changelogs, are the same on every run.

use std::fs;
use std::path::Path;

use git2::{IndexAddOption, ObjectType, Oid, Repository, Signature, Time};
use tempfile::TempDir;

/// A repository in a temporary directory, removed when dropped.
pub struct TestRepo {
    dir: TempDir,
    repo: Repository,
    clock: i64,
    counter: usize,
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRepo {
    /// An empty repository (unborn `HEAD` on `main`).
    #[must_use]
    pub fn new() -> Self {
        Self::init(TempDir::new().expect("temporary directory"))
    }

    /// An empty repository in a new directory inside `parent` (a server's repository root).
    #[must_use]
    pub fn new_in(parent: &Path) -> Self {
        Self::init(TempDir::new_in(parent).expect("temporary directory"))
    }

    fn init(dir: TempDir) -> Self {
        let repo = Repository::init(dir.path()).expect("git init");
        repo.set_head("refs/heads/main").expect("HEAD to main");
        Self {
            dir,
            repo,
            clock: 1_700_000_000,
            counter: 0,
        }
    }

    /// Sets the clock: the next commit is made one minute after `seconds` (Unix time), so
    /// tests can skew commit dates.
    pub fn set_clock(&mut self, seconds: i64) {
        self.clock = seconds;
    }

    /// The work tree.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The libgit2 handle.
    #[must_use]
    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// Commits a new file with `message`, as Ada Lovelace.
    pub fn commit(&mut self, message: &str) -> Oid {
        self.counter += 1;
        let name = format!("file-{}.txt", self.counter);
        self.commit_files(message, &[(&name, "content\n")])
    }

    /// Commits a new file with `message` by the given author.
    pub fn commit_as(&mut self, message: &str, name: &str, email: &str) -> Oid {
        self.counter += 1;
        let file = format!("file-{}.txt", self.counter);
        self.write(&file, "content\n");
        self.commit_index(message, name, email, &[])
    }

    /// Commits `message` with the tree of `HEAD` unchanged (quick: no work tree, no index), or
    /// an empty tree on an unborn branch.
    pub fn commit_empty(&mut self, message: &str) -> Oid {
        let tree_id = match self.repo.head().ok().and_then(|h| h.peel_to_tree().ok()) {
            Some(tree) => tree.id(),
            None => self
                .repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .expect("empty tree"),
        };
        self.commit_tree(tree_id, message, &[])
    }

    /// Writes the files (paths relative to the root, directories created) and commits them.
    pub fn commit_files(&mut self, message: &str, files: &[(&str, &str)]) -> Oid {
        for (path, content) in files {
            self.write(path, content);
        }
        self.commit_index(message, "Ada Lovelace", "ada@example.com", &[])
    }

    /// Removes a file from the work tree; the next commit of files records its removal.
    pub fn remove(&self, path: &str) {
        fs::remove_file(self.path().join(path)).expect("remove a file");
    }

    /// Writes a file into the work tree without committing it.
    pub fn write(&self, path: &str, content: &str) {
        let full = self.path().join(path);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).expect("create directories");
        }
        fs::write(full, content).expect("write file");
    }

    /// Commits a message given as raw bytes, with an optional `encoding` header (for
    /// messages that are not UTF-8). The tree is the current `HEAD` tree.
    pub fn commit_raw_message(&mut self, message: &[u8], encoding: Option<&str>) -> Oid {
        let head = self.head();
        let tree = self.repo.find_commit(head).expect("HEAD commit").tree_id();
        self.clock += 60;
        let mut raw = format!(
            "tree {tree}\nparent {head}\nauthor Ada Lovelace <ada@example.com> {0} +0000\ncommitter Ada Lovelace <ada@example.com> {0} +0000\n",
            self.clock
        )
        .into_bytes();
        if let Some(encoding) = encoding {
            raw.extend_from_slice(format!("encoding {encoding}\n").as_bytes());
        }
        raw.push(b'\n');
        raw.extend_from_slice(message);
        let oid = self
            .repo
            .odb()
            .expect("object database")
            .write(ObjectType::Commit, &raw)
            .expect("write commit");
        let head_ref = self.head_ref();
        self.repo
            .reference(&head_ref, oid, true, "raw commit")
            .expect("move branch");
        oid
    }

    /// A lightweight tag at `HEAD`.
    pub fn tag(&self, name: &str) {
        let head = self.repo.head().expect("HEAD").peel(ObjectType::Commit);
        self.repo
            .tag_lightweight(name, &head.expect("commit"), false)
            .expect("tag");
    }

    /// An annotated tag at `HEAD`.
    pub fn annotated_tag(&self, name: &str, message: &str) {
        let head = self.repo.head().expect("HEAD").peel(ObjectType::Commit);
        let sig = Signature::new("Ada Lovelace", "ada@example.com", &Time::new(self.clock, 0))
            .expect("signature");
        self.repo
            .tag(name, &head.expect("commit"), &sig, message, false)
            .expect("tag");
    }

    /// Creates a branch at `HEAD` and checks it out.
    pub fn branch(&self, name: &str) {
        let head = self.repo.find_commit(self.head()).expect("HEAD commit");
        self.repo.branch(name, &head, false).expect("branch");
        self.checkout(name);
    }

    /// Points `HEAD` at a new branch that has no commit yet: the next commit is a root.
    pub fn orphan(&self, name: &str) {
        self.repo
            .set_head(&format!("refs/heads/{name}"))
            .expect("set HEAD");
    }

    /// Checks a branch out (work tree included).
    pub fn checkout(&self, name: &str) {
        self.repo
            .set_head(&format!("refs/heads/{name}"))
            .expect("set HEAD");
        let mut options = git2::build::CheckoutBuilder::new();
        options.force().remove_untracked(true);
        self.repo
            .checkout_head(Some(&mut options))
            .expect("checkout");
    }

    /// Merges `branch` into the current branch with a merge commit (never fast-forward).
    pub fn merge(&mut self, branch: &str, message: &str) -> Oid {
        let head = self.head();
        let ours = self.repo.find_commit(head).expect("HEAD commit");
        let theirs = self
            .repo
            .find_branch(branch, git2::BranchType::Local)
            .expect("branch")
            .get()
            .peel_to_commit()
            .expect("branch commit");
        let mut index = self
            .repo
            .merge_commits(&ours, &theirs, None)
            .expect("merge");
        assert!(!index.has_conflicts(), "test merges must not conflict");
        let tree_id = index.write_tree_to(&self.repo).expect("merged tree");
        let theirs_id = theirs.id();
        drop((ours, theirs, index));
        let oid = self.commit_tree(tree_id, message, &[theirs_id]);
        let mut options = git2::build::CheckoutBuilder::new();
        options.force();
        self.repo
            .checkout_head(Some(&mut options))
            .expect("checkout");
        oid
    }

    /// Sets the `origin` remote's URL.
    pub fn set_origin(&self, url: &str) {
        self.repo.remote("origin", url).expect("remote");
    }

    /// The commit at `HEAD`.
    #[must_use]
    pub fn head(&self) -> Oid {
        self.repo
            .head()
            .expect("HEAD")
            .target()
            .expect("direct reference")
    }

    fn head_ref(&self) -> String {
        self.repo
            .find_reference("HEAD")
            .expect("HEAD")
            .symbolic_target()
            .ok()
            .flatten()
            .unwrap_or("refs/heads/main")
            .to_owned()
    }

    fn commit_index(&mut self, message: &str, name: &str, email: &str, extra: &[Oid]) -> Oid {
        let mut index = self.repo.index().expect("index");
        index
            .add_all(["*"], IndexAddOption::DEFAULT, None)
            .expect("add");
        // Files removed from the work tree leave the index too.
        index.update_all(["*"], None).expect("update");
        index.write().expect("write index");
        let tree_id = index.write_tree().expect("tree");
        self.commit_tree_as(tree_id, message, name, email, extra)
    }

    fn commit_tree(&mut self, tree_id: Oid, message: &str, extra: &[Oid]) -> Oid {
        self.commit_tree_as(tree_id, message, "Ada Lovelace", "ada@example.com", extra)
    }

    fn commit_tree_as(
        &mut self,
        tree_id: Oid,
        message: &str,
        name: &str,
        email: &str,
        extra: &[Oid],
    ) -> Oid {
        self.clock += 60;
        let time = Time::new(self.clock, 0);
        let author = Signature::new(name, email, &time).expect("signature");
        let committer =
            Signature::new("Ada Lovelace", "ada@example.com", &time).expect("signature");
        let tree = self.repo.find_tree(tree_id).expect("tree");
        let mut parents = Vec::new();
        if let Ok(head) = self.repo.head()
            && let Some(oid) = head.target()
        {
            parents.push(self.repo.find_commit(oid).expect("parent"));
        }
        for oid in extra {
            parents.push(self.repo.find_commit(*oid).expect("parent"));
        }
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let head_ref = self.head_ref();
        self.repo
            .commit(
                Some(&head_ref),
                &author,
                &committer,
                message,
                &tree,
                &parent_refs,
            )
            .expect("commit")
    }
}

/// The git source's reader of packed commits and trees, for tests that hold it against libgit2.
pub struct PackedReader(crate::source::git::packed::PackedObjects);

/// A tree entry as [`PackedReader`] reads it: name, mode (as
/// [`git2::TreeEntry::filemode`] gives it), id, and whether it is a tree.
pub type PackedEntry = (Vec<u8>, i32, Oid, bool);

impl PackedReader {
    /// The packs of `repo`; `None` when it has none the reader reads.
    #[must_use]
    pub fn open(repo: &Repository) -> Option<Self> {
        crate::source::git::packed::PackedObjects::open(repo).map(Self)
    }

    /// [`open`](Self::open), reading the packs entry by entry from their files rather than
    /// whole into memory.
    #[must_use]
    pub fn open_from_files(repo: &Repository) -> Option<Self> {
        crate::source::git::packed::PackedObjects::open_with(repo, 0).map(Self)
    }

    /// The bytes of the commit `id`, or `None` when no pack holds it whole.
    pub fn commit(&mut self, id: Oid) -> Option<Vec<u8>> {
        self.0.commit(id)
    }

    /// The entries of the tree `id`, or `None` when no pack holds it whole.
    pub fn tree(&mut self, id: Oid) -> Option<Vec<PackedEntry>> {
        Some(
            self.0
                .tree(id)?
                .into_iter()
                .map(|e| (e.name.into_vec(), e.mode, e.id, e.is_tree))
                .collect(),
        )
    }
}
