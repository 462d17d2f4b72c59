//! What a commit changes, compared with its first parent: whether it touches given paths (the
//! `--path` filter) and the sort of the files it changes (see [`crate::files`]).
//!
//! Both compare trees level by level and stop as early as the answer allows: a subtree whose id
//! is the same on both sides is not read, `--path a/b/c` reads at most the trees on the way to
//! `c` and stops at the first level whose ids match, and the sort of a commit's files is
//! settled by the first source file found.

use std::cmp::Ordering;

use git2::{ObjectType, Oid, Repository, Tree, TreeEntry};

use super::loose::LooseObjects;
use super::walk::Walked;
use super::{OidMap, git_at};
use crate::error::Result;
use crate::files::{Files, Tally};

/// The root trees a commit is compared on: its first parent's and its own.
#[derive(Debug, Clone, Copy)]
pub(super) struct Trees {
    /// The first parent's tree: `None` for a root commit, or a parent that is not there (a
    /// shallow clone), where everything is new.
    pub(super) old: Option<Oid>,
    /// The commit's tree.
    pub(super) new: Oid,
}

impl Trees {
    /// The trees of `commit`, whose parents in the range are in `order` at `position`.
    pub(super) fn of(
        repo: &Repository,
        loose: &mut LooseObjects,
        commit: &Walked,
        order: &[Walked],
        position: &OidMap<usize>,
    ) -> Result<Self> {
        let new = commit.tree;
        let Some(&parent) = commit.parents.first() else {
            return Ok(Self { old: None, new });
        };
        // The walk has read the parents in the range already.
        if let Some(&at) = position.get(&parent) {
            return Ok(Self {
                old: Some(order[at].tree),
                new,
            });
        }
        loose.check(parent)?;
        let old = repo.find_commit(parent).ok().map(|p| p.tree_id());
        Ok(Self { old, new })
    }
}

/// Tree comparisons in one repository.
pub(super) struct Changes<'r> {
    repo: &'r Repository,
    /// The trees read last, newest last: a commit's tree is its child's parent tree, read
    /// again when the walk comes to it.
    recent: Vec<Tree<'r>>,
}

/// How many trees [`Changes`] keeps.
const RECENT_TREES: usize = 32;

/// One side of a tree entry: its id, whether it is a tree, and its mode (a change of mode
/// alone, `chmod +x`, is a change).
type Side = Option<(Oid, bool, i32)>;

impl<'r> Changes<'r> {
    /// Comparisons of trees of `repo`.
    pub(super) fn new(repo: &'r Repository) -> Self {
        Self {
            repo,
            recent: Vec::with_capacity(RECENT_TREES),
        }
    }

    fn tree(&mut self, loose: &mut LooseObjects, id: Oid) -> Result<Tree<'r>> {
        if let Some(tree) = self.recent.iter().rev().find(|t| t.id() == id) {
            return Ok(tree.clone());
        }
        loose.check(id)?;
        let tree = self
            .repo
            .find_tree(id)
            .map_err(git_at("cannot read the tree", id))?;
        if self.recent.len() == RECENT_TREES {
            self.recent.remove(0);
        }
        self.recent.push(tree.clone());
        Ok(tree)
    }

    /// Whether the commit changes anything at or under one of `paths`.
    pub(super) fn touches(
        &mut self,
        loose: &mut LooseObjects,
        trees: Trees,
        paths: &[String],
    ) -> Result<bool> {
        for path in paths {
            let mut new = Some(trees.new);
            let mut old = trees.old;
            let mut components = path.split('/').peekable();
            while let Some(component) = components.next() {
                if new == old {
                    break; // the same tree on both sides: nothing under it changed
                }
                let after = self.entry(loose, new, component)?;
                let before = self.entry(loose, old, component)?;
                if components.peek().is_none() {
                    if after != before {
                        return Ok(true);
                    }
                    break;
                }
                // Only trees go on; a tree that became a file still changed what was under it.
                new = after.filter(|(_, is_tree, _)| *is_tree).map(|(id, ..)| id);
                old = before.filter(|(_, is_tree, _)| *is_tree).map(|(id, ..)| id);
            }
        }
        Ok(false)
    }

    /// The entry named `name` in the tree `tree`.
    fn entry(&mut self, loose: &mut LooseObjects, tree: Option<Oid>, name: &str) -> Result<Side> {
        let Some(tree) = tree else { return Ok(None) };
        let tree = self.tree(loose, tree)?;
        Ok(tree
            .get_name(name)
            .map(|e| (e.id(), e.kind() == Some(ObjectType::Tree), e.filemode())))
    }

    /// The sort of every file the commit changes, when they are all of one sort.
    pub(super) fn files(
        &mut self,
        loose: &mut LooseObjects,
        trees: Trees,
    ) -> Result<Option<Files>> {
        let mut tally = Tally::default();
        let mut prefix = String::new();
        self.compare(loose, trees.old, Some(trees.new), &mut prefix, &mut tally)?;
        Ok(tally.files())
    }

    /// Adds the paths that differ between two trees (either may be absent) to `tally`, until it
    /// is mixed. Both trees are walked side by side in git's order of entries.
    fn compare(
        &mut self,
        loose: &mut LooseObjects,
        old: Option<Oid>,
        new: Option<Oid>,
        prefix: &mut String,
        tally: &mut Tally,
    ) -> Result<()> {
        if old == new || tally.is_mixed() {
            return Ok(());
        }
        let old = old.map(|id| self.tree(loose, id)).transpose()?;
        let new = new.map(|id| self.tree(loose, id)).transpose()?;
        let mut before = old.iter().flat_map(Tree::iter).peekable();
        let mut after = new.iter().flat_map(Tree::iter).peekable();
        while !tally.is_mixed() {
            let order = match (before.peek(), after.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(b), Some(a)) => git_order(b, a),
            };
            let (b, a) = match order {
                Ordering::Less => (before.next(), None),
                Ordering::Greater => (None, after.next()),
                Ordering::Equal => (before.next(), after.next()),
            };
            if let (Some(b), Some(a)) = (&b, &a)
                && b.id() == a.id()
                && b.filemode() == a.filemode()
            {
                continue;
            }
            let name = b
                .as_ref()
                .or(a.as_ref())
                .map(|e| e.name_bytes())
                .unwrap_or_default();
            let length = prefix.len();
            prefix.push_str(&String::from_utf8_lossy(name));
            let tree_of =
                |e: &Option<TreeEntry<'_>>| e.as_ref().filter(|e| is_tree(e)).map(TreeEntry::id);
            let (old_tree, new_tree) = (tree_of(&b), tree_of(&a));
            if old_tree.is_none() && new_tree.is_none() {
                tally.add(prefix);
            } else if let Some(sort) = Files::of_dir(prefix) {
                // `tests/`, `.github/workflows/`: no need to read what changed under it.
                tally.add_sort(sort);
            } else {
                prefix.push('/');
                self.compare(loose, old_tree, new_tree, prefix, tally)?;
            }
            prefix.truncate(length);
        }
        Ok(())
    }
}

fn is_tree(entry: &TreeEntry<'_>) -> bool {
    entry.kind() == Some(ObjectType::Tree)
}

/// Git's order of tree entries: by name, a tree's name read as if it ended with `/`.
fn git_order(a: &TreeEntry<'_>, b: &TreeEntry<'_>) -> Ordering {
    let (x, y) = (a.name_bytes(), b.name_bytes());
    let common = x.len().min(y.len());
    x[..common].cmp(&y[..common]).then_with(|| {
        let next = |name: &[u8], entry: &TreeEntry<'_>| {
            name.get(common).copied().or(is_tree(entry).then_some(b'/'))
        };
        next(x, a).cmp(&next(y, b))
    })
}
