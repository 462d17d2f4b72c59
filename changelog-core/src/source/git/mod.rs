//! The local git source, on libgit2.
//!
//! Range forms, as a user types them:
//!
//! | form | commits |
//! |---|---|
//! | `A..B` | reachable from `B` but not from `A` (an error when `B` is an ancestor of `A`: the ends are reversed) |
//! | `A..` | `A..HEAD` |
//! | `..B` | the whole history up to `B`, every root commit included (git reads `HEAD..B`) |
//! | `vX` (any single revision) | from the nearest tag before `vX` (exclusive) to `vX` |
//! | none | from the latest tag reachable from `HEAD` to `HEAD`; when `HEAD` itself is tagged, that tag's release (as `vX` above); the whole history when there is no tag |
//!
//! Commits brought in by merges are listed once. Merge commits are listed too (the parser
//! marks them as noise); a merge that names a pull request in any of the styles of
//! [`crate::pull_request`] (GitHub, merge queue, bors, GitLab, Azure DevOps) passes its
//! reference and title on to every commit it merged (see [`Commit::merge_refs`]). Names and e-mails go through the repository's
//! `.mailmap`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Offset, Utc};
use git2::{ErrorCode, Mailmap, ObjectType, Oid, Repository};

mod address;
mod clone;
mod diff;
mod loose;
mod obtain;
pub(crate) mod packed;
mod walk;
use walk::Walked;

pub use address::{non_public, parse_ipv4_loose};
pub use obtain::{Checkout, RepoPolicy, Scheme, check_location, check_range, obtain};

use self::diff::{Changes, Trees};
use self::loose::LooseObjects;
use self::packed::LazyPacks;
use super::{CommitSource, History, unambiguous_prefixes};
use crate::commit::{
    Commit, Range, RangeEnd, RangeQuery, ReleaseSelection, RemoteRepository, Signature,
};
use crate::error::{Error, Result};
use crate::text;
use crate::version::{TagRules, Version};

/// Sets libgit2 up for reading a history once, front to back, as a command-line run does.
///
/// - Objects are not re-hashed on every read (libgit2 does so by default; git itself does not):
///   about a tenth of the time of reading a long history.
/// - The object cache is off: the walk reads each commit once and keeps what it needs, so the
///   cache only costs lookups, insertions and memory.
///
/// Both settings are global to the process, so they are left to the program (the `changelog`
/// binary calls this), not switched by the library behind its back.
pub fn tune_for_one_pass() {
    git2::opts::strict_hash_verification(false);
    git2::opts::enable_caching(false);
}

/// A repository on the local file system.
#[derive(Debug, Clone)]
pub struct GitSource {
    path: PathBuf,
    name: String,
    repository: Option<RemoteRepository>,
}

impl GitSource {
    /// Opens the repository containing `path` (the path may be a subdirectory of the work tree,
    /// or a bare repository). The `origin` remote, when it is on GitHub or GitLab, is used for
    /// links.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        let repo = Repository::discover(path).map_err(|source| Error::NotARepository {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::from_repository(&repo, path))
    }

    /// Opens the repository at exactly `path` (a work tree's root, its `.git` directory, or a
    /// bare repository), without looking upward for one: a subdirectory of a work tree, or a
    /// directory inside `.git`, is not a repository here.
    pub fn open_exact(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        let repo = Repository::open_ext(
            path,
            git2::RepositoryOpenFlags::NO_SEARCH,
            std::iter::empty::<&std::ffi::OsStr>(),
        )
        .map_err(|source| Error::NotARepository {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::from_repository(&repo, path))
    }

    fn from_repository(repo: &Repository, path: &Path) -> Self {
        let root = repo.workdir().unwrap_or_else(|| repo.path()).to_owned();
        let repository = repo.find_remote("origin").ok().and_then(|remote| {
            remote
                .url()
                .ok()
                .and_then(RemoteRepository::from_remote_url)
        });
        Self {
            name: path.display().to_string(),
            path: root,
            repository,
        }
    }

    /// The repository's root directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The web location of the `origin` remote, if it is a known host.
    #[must_use]
    pub fn repository(&self) -> Option<&RemoteRepository> {
        self.repository.as_ref()
    }

    /// Reads the history of a range on the calling thread (libgit2 blocks).
    pub fn read(&self, query: &RangeQuery) -> Result<History> {
        let paths = check_query(query)?;
        let repo = self.open_repository()?;
        // Every object read below is checked first (see `loose`): a damaged loose object is an
        // error, never a read that does not return.
        let mut loose = LooseObjects::new(&repo);
        let rules = tag_rules(query)?;
        let mut tags = Tags::unread(&rules);
        let (from, to) = resolve(
            &repo,
            &mut loose,
            &mut tags,
            query.range.as_deref(),
            &self.path,
        )?;
        let whole_history = query
            .range
            .as_deref()
            .is_some_and(|r| r.trim_start().starts_with(".."));
        let Collected {
            mut commits,
            truncated_at,
            ..
        } = self.collect(
            &repo,
            &mut loose,
            from.as_ref(),
            &to,
            &mut |_| false,
            query,
            &paths,
        )?;

        if commits.is_empty() && !paths.is_empty() {
            // No commit changed them: a path that is not there either is a mistake (a typo,
            // a path from another repository), not an empty changelog.
            check_paths_exist(&repo, &mut loose, to.1, &paths)?;
        }
        set_short_ids(&mut commits);

        let range = Range {
            spec: match &from {
                Some((from_end, _)) => format!("{}..{}", from_end.rev, to.0.rev),
                None if whole_history => format!("..{}", to.0.rev),
                None => to.0.rev.clone(),
            },
            from: from.map(|(end, _)| end),
            to: to.0,
            since: query.since,
            until: query.until,
            paths,
            truncated_at,
        };
        Ok(History {
            range: Some(range),
            commits,
            repository: self.repository.clone(),
        })
    }

    /// Reads releases in one walk of the history up to `HEAD`: a release is a version tag
    /// (with the query's tag prefix, the prefix and a version), and every commit belongs to the
    /// oldest release whose tag reaches it, so each release holds what it added over the
    /// releases before it. Releases come newest first, after the unreleased commits when the
    /// selection asks for them; commits older than the first release belong to it.
    ///
    /// The cost is one walk whatever the number of tags: each commit's release is passed on to
    /// its parents as the walk's order (children first) comes to them.
    pub fn read_releases(
        &self,
        query: &RangeQuery,
        selection: ReleaseSelection,
    ) -> Result<Vec<History>> {
        if let Some(range) = &query.range {
            return Err(Error::InvalidRange {
                spec: range.clone(),
                reason: "releases are read from the whole history up to HEAD; leave the range \
                         out"
                .to_owned(),
            });
        }
        let paths = check_query(query)?;
        let repo = self.open_repository()?;
        let mut loose = LooseObjects::new(&repo);
        let rules = tag_rules(query)?;
        let mut tags = Tags::read(
            &rules,
            TagIndex::load(&repo, &mut loose, &rules, true, None)?,
        );
        let (_, head) = resolve(&repo, &mut loose, &mut tags, Some("..HEAD"), &self.path)?;
        let tags = tags.into_index();
        // The latest N releases: the walk stops at the tag of release N + 1, which bounds
        // them as the lower end of a range does, rather than reading the whole history.
        let mut counted: Vec<Oid> = Vec::new();
        let mut bound: Option<Oid> = None;
        let collected = {
            let mut boundary = |oid: Oid| match selection.count {
                Some(count) if tags.by_commit.contains_key(&oid) => {
                    if counted.len() < count {
                        counted.push(oid);
                        false
                    } else {
                        bound.get_or_insert(oid);
                        true
                    }
                }
                _ => false,
            };
            self.collect(&repo, &mut loose, None, &head, &mut boundary, query, &paths)?
        };
        // The walk meets commits by date; when dates are equal or skewed it can meet a release
        // tag before a newer one that reaches it, and the newer one then hides it. Then the
        // releases are read from the whole history, as without a count.
        let kept: std::collections::HashSet<Oid> = counted.iter().copied().collect();
        let collected = if collected.ids.iter().filter(|id| kept.contains(id)).count() == kept.len()
        {
            collected
        } else {
            bound = None;
            self.collect(
                &repo,
                &mut loose,
                None,
                &head,
                &mut |_| false,
                query,
                &paths,
            )?
        };
        let Collected {
            commits,
            at,
            parents,
            ids,
            times,
            truncated_at,
        } = collected;

        // Release numbers, newest first, by the walk's order of the tagged commits; a commit
        // takes the oldest (greatest) number among its own and its children's.
        let mut release_of: Vec<Option<usize>> = vec![None; ids.len()];
        let mut tagged: Vec<usize> = Vec::new();
        for i in 0..ids.len() {
            if tags.by_commit.contains_key(&ids[i]) {
                release_of[i] = Some(tagged.len());
                tagged.push(i);
            }
            if let Some(release) = release_of[i] {
                for &parent in &parents[i] {
                    release_of[parent] = release_of[parent].max(Some(release));
                }
            }
        }
        let mut unreleased = Vec::new();
        let mut released: Vec<Vec<Commit>> = vec![Vec::new(); tagged.len()];
        for (commit, i) in commits.into_iter().zip(at) {
            match release_of[i] {
                Some(release) => released[release].push(commit),
                None => unreleased.push(commit),
            }
        }

        // The walk read the tagged commits' dates; only the bound below them is read again.
        let mut ends: Vec<End> = tagged
            .iter()
            .map(|&i| {
                let name = &tags.by_commit[&ids[i]];
                end_at(name, ids[i], Some(name.clone()), times[i])
            })
            .collect();
        if let Some(oid) = bound {
            let name = &tags.by_commit[&oid];
            ends.push(end(&repo, name, oid, Some(name.clone()))?);
        }
        let history = |commits: Vec<Commit>, from: Option<&End>, to: &End, whole: bool| {
            let mut commits = commits;
            set_short_ids(&mut commits);
            let truncated_at = truncated_at
                .clone()
                .filter(|boundary| commits.iter().any(|c| &c.id == boundary));
            History {
                range: Some(Range {
                    spec: match from {
                        Some((from, _)) => format!("{}..{}", from.rev, to.0.rev),
                        None if whole => format!("..{}", to.0.rev),
                        None => to.0.rev.clone(),
                    },
                    from: from.map(|(end, _)| end.clone()),
                    to: to.0.clone(),
                    since: query.since,
                    until: query.until,
                    paths: paths.clone(),
                    truncated_at,
                }),
                commits,
                repository: self.repository.clone(),
            }
        };
        let mut out = Vec::new();
        if selection.unreleased {
            // The commits after the latest release: `HEAD` as an end, not as the release its
            // tag may make it (a tagged `HEAD` has nothing unreleased).
            let untagged = (
                RangeEnd {
                    tag: None,
                    ..head.0.clone()
                },
                head.1,
            );
            out.push(history(unreleased, ends.first(), &untagged, true));
        }
        let count = selection.count.unwrap_or(tagged.len()).min(tagged.len());
        for (release, commits) in released.into_iter().enumerate().take(count) {
            out.push(history(
                commits,
                ends.get(release + 1),
                &ends[release],
                true,
            ));
        }
        Ok(out)
    }

    fn open_repository(&self) -> Result<Repository> {
        Repository::open(&self.path).map_err(|source| Error::NotARepository {
            path: self.path.clone(),
            source,
        })
    }

    /// The commits of `from..to` that pass the query's filters, newest first, with their pull
    /// requests and the sort of their files; and the graph they were read from.
    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        repo: &Repository,
        loose: &mut LooseObjects,
        from: Option<&End>,
        to: &End,
        boundary: &mut dyn FnMut(Oid) -> bool,
        query: &RangeQuery,
        paths: &[String],
    ) -> Result<Collected> {
        let filter = Filter {
            since: query.since.map(|t| t.timestamp()),
            until: query.until.map(|t| t.timestamp()),
            paths,
            // Under `--path` the commits the filter keeps are few: their files are compared
            // as they are read.
            files: !query.words_only && !paths.is_empty(),
        };
        // A second thread, with a handle of its own on the repository, converts each commit the
        // walk hands it while this one walks the history, and compares the files of those
        // whose words leave their kind open (the `--path` filter's are compared here).
        let classify = !query.words_only && paths.is_empty();
        // The packs are opened once, by the first thread that reads them: the walk reads
        // commits from them (past its first few), the worker and `--path` trees.
        let packs = LazyPacks::default();
        let for_worker = packs.clone();
        // One set of recent trees for `--path` and for the files of the commits it keeps.
        let mut changes = Changes::new(repo, packs.clone());
        let walk_packs = walk::packs_read_as_written(repo).then_some(&packs);
        let (order, position, read, mut converted) = std::thread::scope(|scope| {
            let (sender, queue) = mpsc::channel::<Vec<RawCommit>>();
            let path = self.path.as_path();
            let filter = &filter;
            let worker = std::thread::Builder::new()
                .name("changelog-convert".to_owned())
                .spawn_scoped(scope, move || {
                    convert_all(path, for_worker, &queue, filter, classify)
                })
                .map_err(|e| Error::Task(format!("cannot start a thread: {e}")))?;
            // In batches: a message per commit would wake the worker once per commit.
            let mut batch = Vec::with_capacity(BATCH);
            let mut expanded = |walked: &Walked, text, parent_tree: Option<Oid>| {
                batch.push(RawCommit::of(walked, text, parent_tree));
                if batch.len() == BATCH {
                    // A worker that stopped has an error to tell, at the join below.
                    let _ = sender.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            };
            // Every commit of the range, in topological order (children before parents),
            // before any filter: the merge analysis needs the whole graph.
            let order = walk::range(
                repo,
                loose,
                walk_packs,
                to.1,
                from.map(|(_, oid)| *oid),
                boundary,
                &mut expanded,
            );
            if !batch.is_empty() {
                let _ = sender.send(batch);
            }
            // The queue closes: the worker ends once it has converted what it was given (the
            // scope waits for it on every return below).
            drop(sender);
            let order = order?;
            if order.is_empty()
                && let Some((from_end, from_oid)) = from
                && *from_oid != to.1
                && repo
                    .graph_descendant_of(*from_oid, to.1)
                    .map_err(git("cannot compare the ends of the range"))?
            {
                // `v1.1.0..v1.0.0`: nothing is reachable from the newer end that the older one
                // lacks. Said, with the order that was meant, rather than an empty changelog.
                return Err(Error::InvalidRange {
                    spec: format!("{}..{}", from_end.rev, to.0.rev),
                    reason: format!(
                        "it is reversed: `{}` comes after `{}`; the older end goes first: `{}..{}`",
                        from_end.rev, to.0.rev, to.0.rev, from_end.rev
                    ),
                });
            }
            let position: OidMap<usize> = order
                .iter()
                .enumerate()
                .map(|(i, commit)| (commit.id, i))
                .collect();
            let read = read_commits(repo, loose, &mut changes, &order, &position, filter)?;
            let converted = match worker.join() {
                Ok(converted) => converted?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            Ok::<_, Error>((order, position, read, converted))
        })?;

        // A shallow clone's boundary commits have no parents here: a range that reaches one
        // is cut short.
        let truncated_at = shallow_boundary(repo, &order).map(hex);
        if let Some(commit) = &truncated_at
            && !query.allow_shallow
        {
            return Err(Error::ShallowHistory {
                path: self.path.clone(),
                commit: commit.clone(),
            });
        }

        let mut commits = Vec::with_capacity(order.len());
        let mut at = Vec::with_capacity(order.len());
        // Position in `order` -> position in `commits`, for the commits that pass the filters.
        let mut kept: Vec<Option<usize>> = vec![None; order.len()];
        let mut merges: Vec<(usize, PullRequestMerge, bool)> = Vec::new();
        let mut parents: Vec<Vec<usize>> = Vec::with_capacity(order.len());
        for (i, one) in read.into_iter().enumerate() {
            parents.push(one.parents);
            let id = order[i].id;
            let Some(mut commit) = converted.take(id) else {
                return Err(Error::Task(format!("commit {id} was walked but not read")));
            };
            if one.is_merge {
                let refs = crate::pull_request::merged_pull_requests(&commit.summary, &commit.body);
                if !refs.0.is_empty() {
                    merges.push((i, refs, one.first_in_range));
                }
            }
            if one.keep {
                if filter.files && !one.is_merge && crate::parse::files_may_decide(&commit.summary)
                {
                    let trees = Trees::of(repo, loose, &order[i], &order, &position)?;
                    commit.files = changes.files(loose, trees)?;
                }
                kept[i] = Some(commits.len());
                commits.push(commit);
                at.push(i);
            }
        }

        // Oldest merge first: a pull request merged into another one's branch comes first, and
        // its title is the one kept.
        for (merge, (refs, title), first_in_range) in merges.into_iter().rev() {
            for merged in walk::merged_commits(&parents, merge, first_in_range) {
                if let Some(c) = kept[merged] {
                    let commit = &mut commits[c];
                    if commit.merge_refs.is_empty() {
                        commit.merge_title.clone_from(&title);
                    }
                    for r in &refs {
                        if !commit.merge_refs.contains(r) {
                            commit.merge_refs.push(r.clone());
                        }
                    }
                }
            }
        }
        Ok(Collected {
            commits,
            at,
            parents,
            ids: order.iter().map(|w| w.id).collect(),
            times: order
                .iter()
                .map(|w| git2::Time::new(w.time, w.offset))
                .collect(),
            truncated_at,
        })
    }
}

#[async_trait]
impl CommitSource for GitSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn history(&self, query: &RangeQuery) -> Result<History> {
        let source = self.clone();
        let query = query.clone();
        blocking(move || source.read(&query)).await
    }
}

impl GitSource {
    /// [`GitSource::read_releases`] off the async runtime's threads.
    pub async fn releases(
        &self,
        query: &RangeQuery,
        selection: ReleaseSelection,
    ) -> Result<Vec<History>> {
        let source = self.clone();
        let query = query.clone();
        blocking(move || source.read_releases(&query, selection)).await
    }
}

/// Runs libgit2 work on the blocking pool; a panic there is the caller's.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Task(e.to_string())),
    }
}

/// What [`GitSource::collect`] read.
struct Collected {
    /// The commits that pass the filters, newest first (children before parents).
    commits: Vec<Commit>,
    /// Each commit's position in the walk's order.
    at: Vec<usize>,
    /// The positions of each walked commit's parents in the walk, by its own position.
    parents: Vec<Vec<usize>>,
    /// The walked commits' ids, in the walk's order.
    ids: Vec<Oid>,
    /// Their committer dates.
    times: Vec<git2::Time>,
    /// Where a shallow clone's history stops inside the range.
    truncated_at: Option<String>,
}

/// Checks what a query asks before anything is read; returns its normalised paths.
fn check_query(query: &RangeQuery) -> Result<Vec<String>> {
    let paths = normalise_paths(&query.paths)?;
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since > until
    {
        return Err(Error::InvalidRange {
            spec: format!(
                "--since {} --until {}",
                since.to_rfc3339(),
                until.to_rfc3339()
            ),
            reason: "the start date is after the end date".to_owned(),
        });
    }
    Ok(paths)
}

/// Gives each commit the shortest id (at least 7 digits) that no other commit of the list has.
fn set_short_ids(commits: &mut [Commit]) {
    let ids: Vec<&str> = commits.iter().map(|c| c.id.as_str()).collect();
    let lengths = unambiguous_prefixes(&ids, 7);
    for (commit, length) in commits.iter_mut().zip(lengths) {
        // Most ids keep the short id they were read with.
        if commit.short_id.len() != length {
            commit.short_id = commit.id[..length].to_owned();
        }
    }
}

/// Commit date and path filters, applied while reading.
struct Filter<'a> {
    since: Option<i64>,
    until: Option<i64>,
    paths: &'a [String],
    /// Whether to see the files of commits whose words leave their kind open.
    files: bool,
}

impl Filter<'_> {
    /// Whether a commit date (seconds) is within the dates.
    fn in_dates(&self, committed: i64) -> bool {
        self.since.is_none_or(|s| committed >= s) && self.until.is_none_or(|u| committed <= u)
    }
}

/// The pull requests a merge names, and their title.
type PullRequestMerge = (Vec<String>, Option<String>);

/// What reading one commit of the range yields (the commit itself comes from the converting
/// thread).
struct ReadCommit {
    /// It passes the filters.
    keep: bool,
    /// Positions of its parents in the range.
    parents: Vec<usize>,
    /// It has several parents.
    is_merge: bool,
    /// Its first parent is in the range.
    first_in_range: bool,
}

/// Reads consecutive commits of the range, in order: their place in the graph and whether
/// they pass the filters.
fn read_commits(
    repo: &Repository,
    loose: &mut LooseObjects,
    changes: &mut Changes<'_>,
    order: &[Walked],
    position: &OidMap<usize>,
    filter: &Filter<'_>,
) -> Result<Vec<ReadCommit>> {
    let mut out = Vec::with_capacity(order.len());
    for commit in order {
        let parents = commit
            .parents
            .iter()
            .filter_map(|p| position.get(p).copied())
            .collect();
        // Dates first: they are free, paths need tree comparisons.
        let keep = filter.in_dates(commit.time)
            && (filter.paths.is_empty() || {
                let trees = Trees::of(repo, loose, commit, order, position)?;
                changes.touches(loose, trees, filter.paths)?
            });
        out.push(ReadCommit {
            keep,
            parents,
            is_merge: commit.parents.len() > 1,
            first_in_range: commit
                .parents
                .first()
                .is_some_and(|first| position.contains_key(first)),
        });
    }
    Ok(out)
}

/// The first commit of `order` whose parents a shallow clone does not have (listed in the
/// repository's `shallow` file), if any.
fn shallow_boundary(repo: &Repository, order: &[Walked]) -> Option<Oid> {
    if !repo.is_shallow() {
        return None;
    }
    let listed = std::fs::read_to_string(repo.commondir().join("shallow")).ok()?;
    let boundary: std::collections::HashSet<Oid> = listed
        .lines()
        .filter_map(|line| Oid::from_str(line.trim()).ok())
        .collect();
    order.iter().map(|w| w.id).find(|id| boundary.contains(id))
}

/// A map keyed by object id. Ids are hashes already: the map mixes their first eight bytes
/// rather than hashing the whole id again (SipHash showed in profiles of long histories).
pub(super) type OidMap<V> = HashMap<Oid, V, BuildHasherDefault<OidHasher>>;

/// The hasher of [`OidMap`]: the first eight bytes of what it is given, mixed.
#[derive(Default)]
pub(super) struct OidHasher(u64);

impl Hasher for OidHasher {
    fn finish(&self) -> u64 {
        // Every bit of the id's leading eight bytes reaches the bits the map indexes with, so
        // ids ground to share some of them do not pile up in one bucket.
        let mut x = self.0;
        x ^= x >> 32;
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        // `Oid` hashes its bytes with one `write` (a slice's length goes first, through
        // `write_usize`): fold in whatever comes, the id's leading bytes last.
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
    }
}

/// How many commits the walk hands the converting thread at a time.
const BATCH: usize = 256;

/// A commit as the walk hands it to the converting thread.
struct RawCommit {
    id: Oid,
    /// Parent ids as the walk sees them (grafts and shallow boundaries applied).
    parents: Vec<Oid>,
    text: walk::CommitText,
    trees: Trees,
}

impl RawCommit {
    fn of(walked: &Walked, text: walk::CommitText, parent_tree: Option<Oid>) -> Self {
        Self {
            id: walked.id,
            parents: walked.parents.clone(),
            text,
            trees: Trees {
                old: parent_tree,
                new: walked.tree,
            },
        }
    }
}

/// Converts each commit the walk hands over, until the walk ends; with `classify`, also sorts
/// the files of those in the dates whose words leave their kind open (see
/// [`crate::parse::files_may_decide`]). Runs with a handle of its own on the repository at
/// `path`.
fn convert_all(
    path: &Path,
    packs: LazyPacks,
    queue: &mpsc::Receiver<Vec<RawCommit>>,
    filter: &Filter<'_>,
    classify: bool,
) -> Result<Converted> {
    let repo = Repository::open(path).map_err(|source| Error::NotARepository {
        path: path.to_owned(),
        source,
    })?;
    let mut loose = LooseObjects::new(&repo);
    let mut changes = Changes::new(&repo, packs);
    let mailmap = mailmap_of(&repo);
    let mut out = Converted::default();
    for raw in queue.iter().flatten() {
        let mut commit = convert(&raw, mailmap.as_ref());
        if classify
            && raw.parents.len() <= 1
            && filter.in_dates(commit.committer.time.timestamp())
            && crate::parse::files_may_decide(&commit.summary)
        {
            commit.files = changes.files(&mut loose, raw.trees)?;
        }
        out.index.insert(raw.id, out.commits.len());
        out.commits.push(Some(commit));
    }
    Ok(out)
}

/// What the converting thread gives back: the commits, and where each one is.
#[derive(Default)]
struct Converted {
    commits: Vec<Option<Commit>>,
    index: OidMap<usize>,
}

impl Converted {
    /// Takes the commit with this id out.
    fn take(&mut self, id: Oid) -> Option<Commit> {
        let at = *self.index.get(&id)?;
        self.commits[at].take()
    }
}

/// The repository's mailmap, when it has one (a `.mailmap` file, or `mailmap.file` or
/// `mailmap.blob` in its configuration): without one, nothing is looked up.
fn mailmap_of(repo: &Repository) -> Option<Mailmap> {
    let configured = repo.config().ok().is_some_and(|config| {
        config.get_entry("mailmap.file").is_ok() || config.get_entry("mailmap.blob").is_ok()
    });
    let in_tree = match repo.workdir() {
        Some(dir) => dir.join(".mailmap").exists(),
        None => repo.revparse_single("HEAD:.mailmap").is_ok(),
    };
    if configured || in_tree {
        repo.mailmap().ok()
    } else {
        None
    }
}

fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> Error {
    let context = context.into();
    move |source| Error::Git { context, source }
}

/// [`git`] for a context naming an object, written only when there is an error (on the paths
/// that run once per commit, formatting every context up front shows in profiles).
fn git_at(what: &'static str, oid: Oid) -> impl FnOnce(git2::Error) -> Error {
    move |source| Error::Git {
        context: format!("{what} {oid}"),
        source,
    }
}

/// Tags by the commit they point to (annotated tags peeled).
#[derive(Default)]
struct TagIndex {
    by_commit: HashMap<Oid, String>,
}

impl TagIndex {
    /// The tags of the repository, but those the rules skip; with `versions_only` or rules
    /// that narrow them (a prefix, a pattern), only release tags (see [`TagRules`]); with
    /// `only`, only the tags of that commit.
    ///
    /// The tags `packed-refs` holds (`git pack-refs` writes it, and `git gc` runs that) are
    /// read from the file alone: it says what each tag points to and, for an annotated tag,
    /// the commit it peels to, so no object is read (nor checked: an end of a range is checked
    /// when it is read) and no reference is made for the thousands of tags a long-lived
    /// repository keeps there. Loose tag references, which override packed ones of the same
    /// name, are read with libgit2; so is every tag of a repository whose `packed-refs` does
    /// not say what its tags peel to (or cannot be read).
    fn load(
        repo: &Repository,
        loose: &mut LooseObjects,
        rules: &TagRules,
        versions_only: bool,
        only: Option<&[Oid]>,
    ) -> Result<Self> {
        let releases_only = versions_only || rules.narrows();
        let mut index = Self::default();
        let mut add = |name: &str, commit: Oid| {
            if only.is_some_and(|wanted| !wanted.contains(&commit))
                || rules.is_skipped(name)
                || (releases_only && !rules.is_release(name))
            {
                return;
            }
            // Several tags on one commit: the greatest version, a release before its
            // pre-releases (`v2.0.0` over `v2.0.0-rc.1`, `v1.10.0` over `v1.9.0`).
            index
                .by_commit
                .entry(commit)
                .and_modify(|current| {
                    if tag_rank(rules.version_of(name)) > tag_rank(rules.version_of(current)) {
                        name.clone_into(current);
                    }
                })
                .or_insert_with(|| name.to_owned());
        };
        // Loose references first, then the file: a tag packed in between (`git pack-refs`
        // running beside this) is then found in the file rather than in neither, as git reads.
        let listed = loose_tags(&repo.commondir().join("refs").join("tags"));
        let packed = match std::fs::read_to_string(repo.commondir().join("packed-refs")) {
            Ok(text) => packed_peeled(&text).then_some(text),
            // No file: no packed tags (a repository never packed), every tag is loose.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(String::new()),
            Err(_) => None,
        };
        let Some(packed) = packed.as_deref() else {
            let references = repo
                .references_glob("refs/tags/*")
                .map_err(git("cannot list tags"))?;
            for reference in references {
                let Ok(reference) = reference else { continue };
                if let Some((name, commit)) = tag_of(repo, loose, &reference)? {
                    add(name, commit);
                }
            }
            return Ok(index);
        };
        // A loose reference overrides the packed one of its name; one that cannot be read (a
        // lock file, a damaged file) does not, as with libgit2's listing.
        let mut overridden = std::collections::HashSet::new();
        for full in listed {
            let Ok(reference) = repo.find_reference(&full) else {
                continue;
            };
            if let Some((name, commit)) = tag_of(repo, loose, &reference)? {
                add(name, commit);
            }
            overridden.insert(full);
        }
        for (name, commit) in packed_tags(packed) {
            if !overridden.contains(&format!("refs/tags/{name}")) {
                add(name, commit);
            }
        }
        Ok(index)
    }

    /// The nearest tagged ancestor of `start` in date order (`start` itself when `include_start`).
    fn nearest(
        &self,
        repo: &Repository,
        loose: &mut LooseObjects,
        start: Oid,
        include_start: bool,
    ) -> Result<Option<(String, Oid)>> {
        if self.by_commit.is_empty() {
            return Ok(None);
        }
        let found = walk::nearest(repo, loose, start, include_start, |oid| {
            self.by_commit.contains_key(&oid)
        })?;
        Ok(found.map(|oid| (self.by_commit[&oid].clone(), oid)))
    }
}

/// The tags a range is resolved with, read when first needed: the default range and a single
/// revision look for the nearest tag, which needs them all; a range whose ends are both given
/// (`v1.0.0..v1.1.0`, `..HEAD`) needs only the tags of its two ends.
struct Tags<'r> {
    rules: &'r TagRules,
    index: Option<TagIndex>,
}

impl<'r> Tags<'r> {
    fn unread(rules: &'r TagRules) -> Self {
        Self { rules, index: None }
    }

    fn read(rules: &'r TagRules, index: TagIndex) -> Self {
        Self {
            rules,
            index: Some(index),
        }
    }

    /// Every tag, read now if they were not.
    fn all(&mut self, repo: &Repository, loose: &mut LooseObjects) -> Result<&TagIndex> {
        let index = match self.index.take() {
            Some(index) => index,
            None => TagIndex::load(repo, loose, self.rules, false, None)?,
        };
        Ok(self.index.insert(index))
    }

    /// The tag that names each commit (the greatest, when several do), read in one pass.
    fn of(
        &self,
        repo: &Repository,
        loose: &mut LooseObjects,
        commits: &[Oid],
    ) -> Result<Vec<Option<String>>> {
        let read;
        let index = match &self.index {
            Some(index) => index,
            None => {
                read = TagIndex::load(repo, loose, self.rules, false, Some(commits))?;
                &read
            }
        };
        Ok(commits
            .iter()
            .map(|commit| index.by_commit.get(commit).cloned())
            .collect())
    }

    fn into_index(self) -> TagIndex {
        self.index.unwrap_or_default()
    }
}

/// A tag reference's name (`v1.0.0`) and the commit it points to, its objects checked before
/// libgit2 reads them; `None` for a name that is not UTF-8, a symbolic reference, or a tag of
/// a tree or blob.
fn tag_of<'a>(
    repo: &Repository,
    loose: &mut LooseObjects,
    reference: &'a git2::Reference<'_>,
) -> Result<Option<(&'a str, Oid)>> {
    let (Ok(name), Some(target)) = (reference.shorthand(), reference.target()) else {
        return Ok(None);
    };
    check_peeled(repo, loose, target)?;
    Ok(reference
        .peel_to_commit()
        .ok()
        .map(|commit| (name, commit.id())))
}

/// Whether a `packed-refs` file says what its annotated tags peel to (its header's `peeled`
/// or `fully-peeled` trait): a tag without a peeled line then points to its object directly.
fn packed_peeled(text: &str) -> bool {
    text.lines().next().is_some_and(|header| {
        header.starts_with("# pack-refs with:")
            && header
                .split_whitespace()
                .any(|t| t == "peeled" || t == "fully-peeled")
    })
}

/// The tags of a `packed-refs` file whose tags are peeled: each one's name (`v1.0.0`, not
/// UTF-8 checked again: the file is text) and the object it peels to.
fn packed_tags(text: &str) -> impl Iterator<Item = (&str, Oid)> {
    let mut lines = text.lines().skip(1).peekable();
    std::iter::from_fn(move || {
        loop {
            let line = lines.next()?;
            let Some((oid, name)) = line.split_once(' ') else {
                continue; // a peeled line of a reference that is not a tag, or damage
            };
            let Some(name) = name.strip_prefix("refs/tags/") else {
                continue;
            };
            let Ok(target) = Oid::from_str(oid) else {
                continue;
            };
            let peeled = lines
                .next_if(|next| next.starts_with('^'))
                .and_then(|next| Oid::from_str(next[1..].trim()).ok());
            return Some((name, peeled.unwrap_or(target)));
        }
    })
}

/// The full names of the loose references under `dir` (`refs/tags`), at any depth.
fn loose_tags(dir: &Path) -> std::collections::HashSet<String> {
    let mut found = std::collections::HashSet::new();
    let mut pending = vec![(dir.to_owned(), "refs/tags".to_owned())];
    while let Some((dir, prefix)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: libgit2 cannot name it either
            };
            let full = format!("{prefix}/{name}");
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push((entry.path(), full)),
                Ok(_) => {
                    found.insert(full);
                }
                Err(_) => {}
            }
        }
    }
    found
}

/// The release-tag rules of a query.
fn tag_rules(query: &RangeQuery) -> Result<TagRules> {
    TagRules::new(
        query.tag_prefix.as_deref(),
        query.tag_pattern.as_deref(),
        query.skip_tags.as_deref(),
    )
}

/// How tags on one commit compare: versions first, by semantic-versioning precedence (a
/// release before its pre-releases, `rc.10` after `rc.9`), then by name.
fn tag_rank(name: &str) -> (Option<Version>, &str) {
    (Version::parse(name), name)
}

type End = (RangeEnd, Oid);

/// Resolves the range form (see the module docs) to its two ends.
fn resolve(
    repo: &Repository,
    loose: &mut LooseObjects,
    tags: &mut Tags<'_>,
    spec: Option<&str>,
    path: &Path,
) -> Result<(Option<End>, End)> {
    let Some(spec) = spec else {
        let head = match repo.head() {
            Ok(head) => head,
            Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
                return Err(Error::UnbornHead {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(git("cannot read HEAD")(e)),
        };
        if let Some(target) = head.target() {
            check_peeled(repo, loose, target)?;
        }
        let head = head.peel_to_commit().map_err(git("cannot read HEAD"))?;
        if let Some(tag) = tags.all(repo, loose)?.by_commit.get(&head.id()).cloned() {
            return single(repo, loose, tags, &tag);
        }
        let to = end(repo, "HEAD", head.id(), None)?;
        let tags = tags.all(repo, loose)?;
        return Ok((lower_end(repo, loose, tags, head.id())?, to));
    };

    let invalid = |reason: &str| Error::InvalidRange {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return Err(invalid("the range is empty"));
    }
    if trimmed.contains("...") {
        return Err(invalid(
            "symmetric differences (`A...B`) are not supported; use `A..B`",
        ));
    }
    match trimmed.split_once("..") {
        None => single(repo, loose, tags, trimmed),
        Some((from, to)) => {
            if to.contains("..") {
                return Err(invalid("a range has at most one `..`"));
            }
            if from.is_empty() && to.is_empty() {
                return Err(invalid(
                    "both ends are missing; the whole history is `..HEAD`",
                ));
            }
            let (from, to) = (from.trim(), to.trim());
            let to = if to.is_empty() { "HEAD" } else { to };
            // `..B`: from the very start (git reads `HEAD..B`, which a changelog never wants).
            if from.is_empty() {
                return Ok((None, lookup(repo, loose, tags, to)?));
            }
            let (to_commit, to_tag) = commit_of(repo, loose, to)?;
            let (from_commit, from_tag) = commit_of(repo, loose, from)?;
            // The tags of the two ends, read together.
            let unnamed: Vec<Oid> = [(to_commit, &to_tag), (from_commit, &from_tag)]
                .into_iter()
                .filter_map(|(commit, tag)| tag.is_none().then_some(commit))
                .collect();
            let mut found = if unnamed.is_empty() {
                Vec::new()
            } else {
                tags.of(repo, loose, &unnamed)?
            }
            .into_iter();
            let to_tag = to_tag.or_else(|| found.next().flatten());
            let from_tag = from_tag.or_else(|| found.next().flatten());
            Ok((
                Some(end(repo, from, from_commit, from_tag)?),
                end(repo, to, to_commit, to_tag)?,
            ))
        }
    }
}

/// `vX`: from the nearest tag before `vX` to `vX`.
fn single(
    repo: &Repository,
    loose: &mut LooseObjects,
    tags: &mut Tags<'_>,
    rev: &str,
) -> Result<(Option<End>, End)> {
    // The nearest tag below needs them all: read them first, and the end's name from them.
    tags.all(repo, loose)?;
    let to = lookup(repo, loose, tags, rev)?;
    let tags = tags.all(repo, loose)?;
    Ok((lower_end(repo, loose, tags, to.1)?, to))
}

/// The nearest tag before a commit (not on it), if any.
fn lower_end(
    repo: &Repository,
    loose: &mut LooseObjects,
    tags: &TagIndex,
    to: Oid,
) -> Result<Option<End>> {
    match tags.nearest(repo, loose, to, false)? {
        Some((name, oid)) => Ok(Some(end(repo, &name, oid, Some(name.clone()))?)),
        None => Ok(None),
    }
}

/// Resolves a revision; the end carries the tag that names its commit, if one does.
fn lookup(
    repo: &Repository,
    loose: &mut LooseObjects,
    tags: &mut Tags<'_>,
    rev: &str,
) -> Result<End> {
    let (commit, tag) = commit_of(repo, loose, rev)?;
    let tag = match tag {
        Some(tag) => Some(tag),
        None => tags.of(repo, loose, &[commit])?.pop().flatten(),
    };
    end(repo, rev, commit, tag)
}

/// The commit a revision names, and the revision itself when it is a tag's name.
fn commit_of(
    repo: &Repository,
    loose: &mut LooseObjects,
    rev: &str,
) -> Result<(Oid, Option<String>)> {
    // A branch or tag name is checked before it is read; an expression (`main~3`) is read by
    // libgit2's parser, which reads the commits it walks unchecked.
    if let Ok(reference) = repo.resolve_reference_from_short_name(rev)
        && let Ok(reference) = reference.resolve()
        && let Some(target) = reference.target()
    {
        check_peeled(repo, loose, target)?;
    } else if let Ok(oid) = Oid::from_str(rev)
        && rev.len() == oid.as_bytes().len() * 2
    {
        check_peeled(repo, loose, oid)?;
    }
    let object = repo
        .revparse_single(rev)
        .map_err(|_| Error::UnknownRevision {
            rev: rev.to_owned(),
        })?;
    let commit = object.peel_to_commit().map_err(|_| Error::NotACommit {
        rev: rev.to_owned(),
    })?;
    let tag = repo
        .find_reference(&format!("refs/tags/{rev}"))
        .is_ok()
        .then(|| rev.to_owned());
    Ok((commit.id(), tag))
}

fn end(repo: &Repository, rev: &str, oid: Oid, tag: Option<String>) -> Result<End> {
    let commit = repo
        .find_commit(oid)
        .map_err(git_at("cannot read commit", oid))?;
    Ok(end_at(rev, oid, tag, commit.time()))
}

/// [`end`] for a commit whose committer date is known.
fn end_at(rev: &str, oid: Oid, tag: Option<String>, time: git2::Time) -> End {
    // Tag names are written by whoever pushed them: what is shown is cleaned, while the
    // lookups above use the names as they are.
    (
        RangeEnd {
            rev: text::sanitize(rev).into_owned(),
            commit: oid.to_string(),
            tag: tag.map(text::sanitize_owned),
            time: time_of(time),
        },
        oid,
    )
}

/// Checks an object, and what it points to when it is an annotated tag, before libgit2 reads
/// them (see `loose`).
fn check_peeled(repo: &Repository, loose: &mut LooseObjects, mut oid: Oid) -> Result<()> {
    // Tags of tags are allowed, but not without end.
    for _ in 0..16 {
        loose.check(oid)?;
        if loose.is_empty() {
            return Ok(());
        }
        match repo.find_object(oid, None) {
            Ok(object) if object.kind() == Some(ObjectType::Tag) => match object.as_tag() {
                Some(tag) => oid = tag.target_id(),
                None => return Ok(()),
            },
            // Not there, or not a tag: whoever reads it next reports it.
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Path filters relative to the repository root, without `./` or a trailing `/`.
fn normalise_paths(paths: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(paths.len());
    for original in paths {
        if original.contains(['*', '?', '[']) {
            return Err(Error::InvalidPath {
                path: original.clone(),
                reason: "patterns are not supported; give a directory or a file",
            });
        }
        let path = Path::new(original);
        let mut parts = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => match part.to_str() {
                    Some(part) => parts.push(part),
                    None => {
                        return Err(Error::InvalidPath {
                            path: original.clone(),
                            reason: "it is not valid UTF-8",
                        });
                    }
                },
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(Error::InvalidPath {
                        path: original.clone(),
                        reason: "`..` cannot be used; give the path from the repository root",
                    });
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(Error::InvalidPath {
                        path: original.clone(),
                        reason: "give the path relative to the repository root",
                    });
                }
            }
        }
        if !parts.is_empty() {
            out.push(parts.join("/"));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Each of `paths` is a file or directory of the commit `at`.
fn check_paths_exist(
    repo: &Repository,
    loose: &mut LooseObjects,
    at: Oid,
    paths: &[String],
) -> Result<()> {
    let commit = repo
        .find_commit(at)
        .map_err(git(format!("cannot read {at}")))?;
    loose.check(commit.tree_id())?;
    let tree = commit
        .tree()
        .map_err(git(format!("cannot read the tree of {at}")))?;
    for path in paths {
        if entry_at(repo, loose, &tree, path)?.is_none() {
            return Err(Error::InvalidPath {
                path: path.clone(),
                reason: "it matches nothing: no commit of the range changed it and it is not in \
                    the range's last commit",
            });
        }
    }
    Ok(())
}

/// The id and mode of the entry at `path` (components joined with `/`) under `tree`, each
/// subtree checked before it is read.
fn entry_at(
    repo: &Repository,
    loose: &mut LooseObjects,
    tree: &git2::Tree<'_>,
    path: &str,
) -> Result<Option<(Oid, i32)>> {
    let mut subtree: Option<git2::Tree<'_>> = None;
    let mut components = path.split('/').peekable();
    while let Some(component) = components.next() {
        let current = subtree.as_ref().unwrap_or(tree);
        let Some(entry) = current.get_name(component) else {
            return Ok(None);
        };
        if components.peek().is_none() {
            return Ok(Some((entry.id(), entry.filemode())));
        }
        if entry.kind() != Some(ObjectType::Tree) {
            return Ok(None);
        }
        let id = entry.id();
        drop(entry);
        loose.check(id)?;
        match repo.find_tree(id) {
            Ok(next) => subtree = Some(next),
            Err(_) => return Ok(None),
        }
    }
    Ok(None)
}

fn convert(raw: &RawCommit, mailmap: Option<&Mailmap>) -> Commit {
    let mut author: &[u8] = b"";
    let mut committer: &[u8] = b"";
    let mut encoding = None;
    for line in raw.text.header().split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"author ") {
            if author.is_empty() {
                author = rest;
            }
        } else if let Some(rest) = line.strip_prefix(b"committer ") {
            if committer.is_empty() {
                committer = rest;
            }
        } else if let Some(rest) = line.strip_prefix(b"encoding ") {
            encoding = Some(String::from_utf8_lossy(rest).trim().to_owned());
        }
    }
    let encoding = encoding.as_deref();
    let message = decode(raw.text.message(), encoding);
    let mut commit = Commit::from_message(
        hex(raw.id),
        signature(author, encoding, mailmap),
        signature(committer, encoding, mailmap),
        &text::sanitize_multiline(&message),
        raw.parents.iter().copied().map(hex).collect(),
    );
    // The message keeps its line breaks and tabs (the body needs them); the summary is one line.
    commit.summary = text::sanitize_owned(commit.summary);
    commit
}

/// Lower-case hexadecimal of an object id (what `Oid::to_string` gives, without the formatting
/// machinery, which shows in profiles of long histories).
fn hex(oid: Oid) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(oid.as_bytes().len() * 2);
    for byte in oid.as_bytes() {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// A signature from its header line (`Name <email> 1700000000 +0100`), its name decoded like
/// the message (the `encoding` header covers the commit) and looked up in the mailmap. A line
/// git would not have written is read as far as it goes.
fn signature(line: &[u8], encoding: Option<&str>, mailmap: Option<&Mailmap>) -> Signature {
    let (name, email, rest) = match line.iter().position(|&b| b == b'<') {
        Some(lt) => match line[lt..].iter().position(|&b| b == b'>') {
            Some(gt) => (&line[..lt], &line[lt + 1..lt + gt], &line[lt + gt + 1..]),
            None => (&line[..lt], &line[lt + 1..], &b""[..]),
        },
        None => (line, &b""[..], &b""[..]),
    };
    let rest = String::from_utf8_lossy(rest);
    let mut fields = rest.split_whitespace();
    let seconds: i64 = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let offset = fields.next().map_or(0, offset_minutes);
    let time = git2::Time::new(seconds, offset);
    let mut name = decode(name.trim_ascii(), encoding);
    let mut email = decode(email.trim_ascii(), encoding);
    if let Some(mailmap) = mailmap
        && let Ok(sig) = git2::Signature::new(&name, &email, &time)
        && let Ok(resolved) = mailmap.resolve_signature(&sig)
    {
        name = String::from_utf8_lossy(resolved.name_bytes()).into_owned();
        email = String::from_utf8_lossy(resolved.email_bytes()).into_owned();
    }
    Signature {
        name: text::sanitize_owned(name),
        email: text::sanitize_owned(email),
        time: time_of(time),
    }
}

/// `+0100` as minutes east of UTC.
fn offset_minutes(zone: &str) -> i32 {
    let (sign, digits) = match zone.as_bytes().first() {
        Some(b'-') => (-1, &zone[1..]),
        Some(b'+') => (1, &zone[1..]),
        _ => (1, zone),
    };
    match (
        digits.get(..2).and_then(|h| h.parse::<i32>().ok()),
        digits.get(2..4).and_then(|m| m.parse::<i32>().ok()),
    ) {
        (Some(hours), Some(minutes)) if digits.len() == 4 => sign * (hours * 60 + minutes),
        _ => 0,
    }
}

fn time_of(time: git2::Time) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(time.offset_minutes() * 60).unwrap_or(Utc.fix());
    DateTime::from_timestamp(time.seconds(), 0)
        .unwrap_or_default()
        .with_timezone(&offset)
}

/// Decodes a message: Latin-1 when the commit says so, UTF-8 otherwise (invalid bytes become
/// U+FFFD rather than failing the whole range).
fn decode(bytes: &[u8], encoding: Option<&str>) -> String {
    let latin1 = encoding.is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        e == "iso-8859-1" || e == "iso8859-1" || e == "latin1" || e == "latin-1"
    });
    if latin1 {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// `#34` of GitHub's `Merge pull request #34 from ...`, `!34` of GitLab's
/// `See merge request group/project!34`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_filters_are_normalised() {
        let paths = normalise_paths(&[
            "./crates/foo/".into(),
            "crates/foo".into(),
            "docs".into(),
            ".".into(),
        ])
        .unwrap();
        assert_eq!(paths, ["crates/foo", "docs"]);
        let err = normalise_paths(&["../x".into()]).unwrap_err();
        assert!(err.to_string().contains("`../x`"), "{err}");
        assert!(normalise_paths(&["/abs".into()]).is_err());
        let err = normalise_paths(&["crates/*".into()]).unwrap_err();
        assert!(
            err.is_usage() && err.to_string().contains("patterns"),
            "{err}"
        );
    }

    #[test]
    fn signatures_are_read_from_header_lines_even_damaged_ones() {
        let sig = signature(
            b"Ada Lovelace <ada@example.com> 1700000000 +0130",
            None,
            None,
        );
        assert_eq!(
            (sig.name.as_str(), sig.email.as_str()),
            ("Ada Lovelace", "ada@example.com")
        );
        assert_eq!(sig.time.timestamp(), 1_700_000_000);
        assert_eq!(sig.time.offset().local_minus_utc(), 90 * 60);
        let west = signature(b"A <a@b> 1700000000 -0800", None, None);
        assert_eq!(west.time.offset().local_minus_utc(), -8 * 3600);
        let latin1 = signature(b"Ren\xe9 <r@e> 1 +0000", Some("ISO-8859-1"), None);
        assert_eq!(latin1.name, "René");
        // What git would not write is read as far as it goes, never an error.
        for line in [
            &b"no email at all"[..],
            b"Half <open",
            b"<> x y",
            b"",
            b"N <e> 12 +99999",
        ] {
            let sig = signature(line, None, None);
            assert!(sig.time.timestamp() >= 0, "{line:?}");
        }
        assert_eq!(signature(b"Half <open", None, None).email, "open");
        assert_eq!(offset_minutes("+0000"), 0);
        assert_eq!(offset_minutes("garbage"), 0);
    }

    #[test]
    fn hex_matches_git2() {
        let oid = Oid::from_str("0123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(hex(oid), oid.to_string());
    }

    #[test]
    fn latin1_messages_are_decoded() {
        assert_eq!(decode(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode(b"caf\xe9", None), "caf\u{fffd}");
        assert_eq!(decode("café".as_bytes(), None), "café");
    }
}
