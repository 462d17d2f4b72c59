//! What a commit changes, compared with its first parent: whether it touches given paths (the
//! `--path` filter) and the sort of the files it changes (see [`crate::files`]).
//!
//! Both compare trees level by level and stop as early as the answer allows: a subtree whose id
//! is the same on both sides is not read, `--path a/b/c` reads at most the trees on the way to
//! `c` and stops at the first level whose ids match, and the sort of a commit's files is
//! settled by the first source file found.

use std::cmp::Ordering;
use std::rc::Rc;

use git2::{ObjectType, Oid, Repository};

use super::loose::LooseObjects;
use super::packed::{Entry, LazyPacks, PackedObjects, git_order};
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
    /// Trees read from the packs without libgit2 (whose pack reads all wait on one
    /// process-wide lock, which the walk holds most of the time): opened at the first tree,
    /// `None` inside when the repository has no pack this reader reads.
    packed: Option<Option<PackedObjects>>,
    /// Where `packed` comes from.
    packs: LazyPacks,
    /// The trees read last, newest last: a commit's tree is its child's parent tree, read
    /// again when the walk comes to it.
    recent: Vec<(Oid, Rc<[Entry]>)>,
    /// Trees read whose entries are not in git's order, or name one thing twice (no git
    /// writes them): names are looked up in them with libgit2, whose search they mislead.
    unordered: Vec<Oid>,
}

/// How many trees [`Changes`] keeps.
const RECENT_TREES: usize = 32;

/// One side of a tree entry: its id, whether it is a tree, and its mode (a change of mode
/// alone, `chmod +x`, is a change).
type Side = Option<(Oid, bool, i32)>;

impl<'r> Changes<'r> {
    /// Comparisons of trees of `repo`, read from `packs` (opened at the first tree, by this
    /// thread or another one).
    pub(super) fn new(repo: &'r Repository, packs: LazyPacks) -> Self {
        Self {
            repo,
            packs,
            packed: None,
            unordered: Vec::new(),
            recent: Vec::with_capacity(RECENT_TREES),
        }
    }

    fn tree(&mut self, loose: &mut LooseObjects, id: Oid) -> Result<Rc<[Entry]>> {
        // Ids compared as bytes: `Oid`'s `==` is a call into libgit2.
        let wanted = id.as_bytes();
        if let Some((_, tree)) = self
            .recent
            .iter()
            .rev()
            .find(|(t, _)| t.as_bytes() == wanted)
        {
            return Ok(Rc::clone(tree));
        }
        let (repo, packs) = (self.repo, &self.packs);
        let packed = self
            .packed
            .get_or_insert_with(|| packs.reader(repo))
            .as_mut()
            .and_then(|packs| packs.tree(id));
        let tree: Rc<[Entry]> = match packed {
            Some(entries) => entries.into(),
            // Loose, or not readable from its pack here: libgit2 reads it, or says what is
            // wrong with it.
            None => {
                loose.check(id)?;
                let tree = repo
                    .find_tree(id)
                    .map_err(git_at("cannot read the tree", id))?;
                let entries: Rc<[Entry]> = tree
                    .iter()
                    .map(|e| Entry {
                        name: e.name_bytes().into(),
                        mode: e.filemode(),
                        id: e.id(),
                        is_tree: e.kind() == Some(ObjectType::Tree),
                    })
                    .collect();
                if !in_order(&entries) {
                    // A name is looked up in it as libgit2 looks it up.
                    self.unordered.push(id);
                }
                entries
            }
        };
        if self.recent.len() == RECENT_TREES {
            self.recent.remove(0);
        }
        self.recent.push((id, Rc::clone(&tree)));
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
        let Some(id) = tree else { return Ok(None) };
        let tree = self.tree(loose, id)?;
        if self.unordered.contains(&id) {
            let tree = self
                .repo
                .find_tree(id)
                .map_err(git_at("cannot read the tree", id))?;
            return Ok(tree
                .get_name(name)
                .map(|e| (e.id(), e.kind() == Some(ObjectType::Tree), e.filemode())));
        }
        // A name is either a file's or a tree's (sorted as if it ended with `/`).
        let name = name.as_bytes();
        let found = [false, true].into_iter().find_map(|is_tree| {
            tree.binary_search_by(|e| git_order(&e.name, e.is_tree, name, is_tree))
                .ok()
        });
        Ok(found.map(|at| &tree[at]).map(|e| (e.id, e.is_tree, e.mode)))
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
        let mut before = old.iter().flat_map(|t| t.iter()).peekable();
        let mut after = new.iter().flat_map(|t| t.iter()).peekable();
        while !tally.is_mixed() {
            let order = match (before.peek(), after.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(b), Some(a)) => git_order(&b.name, b.is_tree, &a.name, a.is_tree),
            };
            let (b, a) = match order {
                Ordering::Less => (before.next(), None),
                Ordering::Greater => (None, after.next()),
                Ordering::Equal => (before.next(), after.next()),
            };
            if let (Some(b), Some(a)) = (b, a)
                && b.id == a.id
                && b.mode == a.mode
            {
                continue;
            }
            let name = b.or(a).map(|e| &e.name[..]).unwrap_or_default();
            let length = prefix.len();
            prefix.push_str(&String::from_utf8_lossy(name));
            let tree_of = |e: Option<&Entry>| e.filter(|e| e.is_tree).map(|e| e.id);
            let (old_tree, new_tree) = (tree_of(b), tree_of(a));
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

/// Whether entries are in git's order, each name once, and no name holds `/`.
fn in_order(entries: &[Entry]) -> bool {
    // A name holding `/` would tie with a tree of its first component in a search.
    entries.iter().all(|e| !e.name.contains(&b'/'))
        && entries.windows(2).all(|pair| {
            *pair[0].name != *pair[1].name
                && git_order(
                    &pair[0].name,
                    pair[0].is_tree,
                    &pair[1].name,
                    pair[1].is_tree,
                ) == Ordering::Less
        })
}
