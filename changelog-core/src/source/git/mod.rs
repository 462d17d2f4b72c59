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
mod walk;

pub use address::{non_public, parse_ipv4_loose};
pub use obtain::{Checkout, RepoPolicy, Scheme, check_location, check_range, obtain};

use self::diff::{Changes, Trees};
use self::loose::LooseObjects;
use super::{CommitSource, History, unambiguous_prefixes};
use crate::commit::{
    Commit, Range, RangeEnd, RangeQuery, ReleaseSelection, RemoteRepository, Signature,
};
use crate::error::{Error, Result};
use crate::files::Files;
use crate::text;

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
        let tags = TagIndex::load(&repo, &mut loose, query.tag_prefix.as_deref(), false)?;
        let (from, to) = resolve(&repo, &mut loose, &tags, query.range.as_deref(), &self.path)?;
        let whole_history = query
            .range
            .as_deref()
            .is_some_and(|r| r.trim_start().starts_with(".."));
        let Collected {
            mut commits,
            truncated_at,
            ..
        } = self.collect(&repo, &mut loose, from.as_ref(), &to, query, &paths)?;

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
        let tags = TagIndex::load(&repo, &mut loose, query.tag_prefix.as_deref(), true)?;
        let (_, head) = resolve(&repo, &mut loose, &tags, Some("..HEAD"), &self.path)?;
        let Collected {
            commits,
            at,
            parents,
            ids,
            truncated_at,
        } = self.collect(&repo, &mut loose, None, &head, query, &paths)?;

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

        let ends: Vec<End> = tagged
            .iter()
            .map(|&i| {
                let name = &tags.by_commit[&ids[i]];
                end(&repo, name, ids[i], Some(name.clone()))
            })
            .collect::<Result<_>>()?;
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
            out.push(history(unreleased, ends.first(), &head, true));
        }
        let count = selection.count.unwrap_or(ends.len()).min(ends.len());
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
    fn collect(
        &self,
        repo: &Repository,
        loose: &mut LooseObjects,
        from: Option<&End>,
        to: &End,
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
        // Otherwise the files of the commits whose words leave their kind open are compared on
        // a second thread, with a handle of its own on the repository, while this one walks
        // the history and reads the commits: the walk hands it each commit it expands.
        let classify = !query.words_only && paths.is_empty();
        let (order, position, read, files) = std::thread::scope(|scope| {
            let (jobs, queue) = mpsc::channel::<ClassificationJob>();
            let path = self.path.as_path();
            let classifier = classify.then(|| scope.spawn(move || classify_files(path, &queue)));
            let mut expanded = |commit: &git2::Commit<'_>, parent_tree: Option<Oid>| {
                if let Some(job) = classification_job(commit, parent_tree, &filter) {
                    // A classifier that stopped has an error to tell, at the join below.
                    let _ = jobs.send(job);
                }
            };
            // Every commit of the range, in topological order (children before parents),
            // before any filter: the merge analysis needs the whole graph.
            let order = walk::range(
                repo,
                loose,
                to.1,
                from.map(|(_, oid)| *oid),
                classify.then_some(&mut expanded as &mut walk::Expanded<'_>),
            )?;
            drop(jobs);
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
            let position: HashMap<Oid, usize> = order
                .iter()
                .enumerate()
                .map(|(i, commit)| (commit.id(), i))
                .collect();
            let read = read_commits(repo, loose, &order, &position, &filter)?;
            let files = match classifier.map(std::thread::ScopedJoinHandle::join) {
                Some(Ok(files)) => files?,
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                None => Vec::new(),
            };
            Ok::<_, Error>((order, position, read, files))
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

        let mut commits = Vec::new();
        let mut at = Vec::new();
        // Position in `order` -> position in `commits`, for the commits that pass the filters.
        let mut kept: HashMap<usize, usize> = HashMap::new();
        let mut merges: Vec<(usize, PullRequestMerge, bool)> = Vec::new();
        let mut parents: Vec<Vec<usize>> = Vec::with_capacity(order.len());
        for (i, one) in read.into_iter().enumerate() {
            parents.push(one.parents);
            if let Some((refs, first_in_range)) = one.merge {
                merges.push((i, refs, first_in_range));
            }
            if let Some(commit) = one.commit {
                kept.insert(i, commits.len());
                commits.push(commit);
                at.push(i);
            }
        }

        // The classifier saw every commit the walk expanded; some were hidden later.
        for (oid, sort) in files {
            if let Some(c) = position.get(&oid).and_then(|i| kept.get(i)) {
                commits[*c].files = Some(sort);
            }
        }

        // Oldest merge first: a pull request merged into another one's branch comes first, and
        // its title is the one kept.
        for (merge, (refs, title), first_in_range) in merges.into_iter().rev() {
            for merged in walk::merged_commits(&parents, merge, first_in_range) {
                if let Some(&c) = kept.get(&merged) {
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
            ids: order.iter().map(git2::Commit::id).collect(),
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
        commit.short_id = commit.id[..length].to_owned();
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

/// The pull requests a merge names, and their title.
type PullRequestMerge = (Vec<String>, Option<String>);

/// What reading one commit of the range yields.
struct ReadCommit {
    /// The commit, when it passes the filters.
    commit: Option<Commit>,
    /// Positions of its parents in the range.
    parents: Vec<usize>,
    /// For a pull or merge request merge: its references and title, and whether its first
    /// parent is in the range.
    merge: Option<(PullRequestMerge, bool)>,
}

/// Reads consecutive commits of the range, in order.
fn read_commits(
    repo: &Repository,
    loose: &mut LooseObjects,
    order: &[git2::Commit<'_>],
    position: &HashMap<Oid, usize>,
    filter: &Filter<'_>,
) -> Result<Vec<ReadCommit>> {
    let mailmap = repo.mailmap().ok();
    let mut changes = Changes::new(repo);
    let mut out = Vec::with_capacity(order.len());
    for commit in order {
        let parents = commit
            .parent_ids()
            .filter_map(|p| position.get(&p).copied())
            .collect();
        let committed = commit.committer().when().seconds();
        let in_dates = filter.since.is_none_or(|s| committed >= s)
            && filter.until.is_none_or(|u| committed <= u);
        // Dates first: they are free, paths need tree comparisons.
        let keep = in_dates
            && (filter.paths.is_empty() || {
                let trees = Trees::of(repo, loose, commit, order, position)?;
                changes.touches(loose, trees, filter.paths)?
            });
        let is_merge = commit.parent_count() > 1;
        let mut converted = if keep || is_merge {
            Some(convert(commit, mailmap.as_ref())?)
        } else {
            None
        };
        if let Some(converted) = &mut converted
            && keep
            && !is_merge
            && filter.files
            && crate::parse::files_may_decide(&converted.summary)
        {
            let trees = Trees::of(repo, loose, commit, order, position)?;
            converted.files = changes.files(loose, trees)?;
        }
        let merge = match &converted {
            Some(c) if is_merge => {
                let refs = crate::pull_request::merged_pull_requests(&c.summary, &c.body);
                let first_in_range = commit
                    .parent_id(0)
                    .is_ok_and(|first| position.contains_key(&first));
                (!refs.0.is_empty()).then_some((refs, first_in_range))
            }
            _ => None,
        };
        out.push(ReadCommit {
            commit: converted.filter(|_| keep),
            parents,
            merge,
        });
    }
    Ok(out)
}

/// The first commit of `order` whose parents a shallow clone does not have (listed in the
/// repository's `shallow` file), if any.
fn shallow_boundary(repo: &Repository, order: &[git2::Commit<'_>]) -> Option<Oid> {
    if !repo.is_shallow() {
        return None;
    }
    let listed = std::fs::read_to_string(repo.commondir().join("shallow")).ok()?;
    let boundary: std::collections::HashSet<Oid> = listed
        .lines()
        .filter_map(|line| Oid::from_str(line.trim()).ok())
        .collect();
    order
        .iter()
        .map(git2::Commit::id)
        .find(|id| boundary.contains(id))
}

/// What the classifying thread needs of a commit whose files may decide its kind: its id,
/// its summary and its trees.
type ClassificationJob = (Oid, String, Trees);

/// The job for a commit the walk expanded, unless it is a merge or outside the dates (which
/// commits the files may decide is the classifying thread's to work out).
fn classification_job(
    commit: &git2::Commit<'_>,
    parent_tree: Option<Oid>,
    filter: &Filter<'_>,
) -> Option<ClassificationJob> {
    let committed = commit.committer().when().seconds();
    if commit.parent_count() > 1
        || filter.since.is_some_and(|s| committed < s)
        || filter.until.is_some_and(|u| committed > u)
    {
        return None;
    }
    let encoding = commit.message_encoding().ok().flatten();
    let summary = decode(commit.summary_bytes().unwrap_or_default(), encoding);
    let trees = Trees {
        old: parent_tree,
        new: commit.tree_id(),
    };
    Some((commit.id(), summary, trees))
}

/// The sort of the files of each queued commit whose files may decide its kind (see
/// [`crate::parse::files_may_decide`]), when they are all of one sort; run with a handle of its
/// own on the repository at `path`, until the queue closes.
fn classify_files(
    path: &Path,
    queue: &mpsc::Receiver<ClassificationJob>,
) -> Result<Vec<(Oid, Files)>> {
    let repo = Repository::open(path).map_err(|source| Error::NotARepository {
        path: path.to_owned(),
        source,
    })?;
    let mut loose = LooseObjects::new(&repo);
    let mut changes = Changes::new(&repo);
    let mut out = Vec::new();
    for (oid, summary, trees) in queue {
        if crate::parse::files_may_decide(&summary)
            && let Some(sort) = changes.files(&mut loose, trees)?
        {
            out.push((oid, sort));
        }
    }
    Ok(out)
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
struct TagIndex {
    by_commit: HashMap<Oid, String>,
}

impl TagIndex {
    /// The tags of the repository; with a prefix, only those made of the prefix and a version
    /// (`tokio-1.52.0` for `tokio-`, not `tokio-macros-2.7.1`), and with `versions_only`,
    /// only versions (release tags).
    fn load(
        repo: &Repository,
        loose: &mut LooseObjects,
        prefix: Option<&str>,
        versions_only: bool,
    ) -> Result<Self> {
        let mut by_commit: HashMap<Oid, String> = HashMap::new();
        let references = repo
            .references_glob("refs/tags/*")
            .map_err(git("cannot list tags"))?;
        for reference in references {
            let Ok(reference) = reference else { continue };
            if (prefix.is_some() || versions_only)
                && !reference
                    .shorthand()
                    .ok()
                    .and_then(|name| name.strip_prefix(prefix.unwrap_or_default()))
                    .is_some_and(is_version)
            {
                continue;
            }
            if let Some(target) = reference.target() {
                check_peeled(repo, loose, target)?;
            }
            let (Ok(name), Ok(commit)) = (reference.shorthand(), reference.peel_to_commit()) else {
                continue; // a tag of a tree or blob, or a name that is not UTF-8
            };
            // Several tags on one commit: the greatest version, a release before its
            // pre-releases (`v2.0.0` over `v2.0.0-rc.1`, `v1.10.0` over `v1.9.0`).
            by_commit
                .entry(commit.id())
                .and_modify(|current| {
                    if tag_rank(name) > tag_rank(current) {
                        name.clone_into(current);
                    }
                })
                .or_insert_with(|| name.to_owned());
        }
        Ok(Self { by_commit })
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

/// Whether a tag name, or what follows a tag prefix, is a version: a digit first, after an
/// optional `v` (`1.52.0`, `v2.0.0-rc.1`).
fn is_version(name: &str) -> bool {
    name.strip_prefix(['v', 'V'])
        .unwrap_or(name)
        .starts_with(|c: char| c.is_ascii_digit())
}

/// How tags on one commit compare: version-like names first, then by their numbers, then a
/// release before a pre-release, then by name.
fn tag_rank(name: &str) -> (bool, Vec<u64>, bool, &str) {
    let version = name.strip_prefix('v').unwrap_or(name);
    let (core, pre) = match version.find(['-', '+']) {
        Some(i) => (&version[..i], version[i..].starts_with('-')),
        None => (version, false),
    };
    let numbers: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    match numbers {
        Some(numbers) => (true, numbers, !pre, name),
        None => (false, Vec::new(), true, name),
    }
}

type End = (RangeEnd, Oid);

/// Resolves the range form (see the module docs) to its two ends.
fn resolve(
    repo: &Repository,
    loose: &mut LooseObjects,
    tags: &TagIndex,
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
        if let Some(tag) = tags.by_commit.get(&head.id()) {
            return single(repo, loose, tags, tag);
        }
        let to = end(repo, "HEAD", head.id(), None)?;
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
            let to = lookup(repo, loose, tags, to)?;
            // `..B`: from the very start (git reads `HEAD..B`, which a changelog never wants).
            if from.is_empty() {
                return Ok((None, to));
            }
            let from = lookup(repo, loose, tags, from)?;
            Ok((Some(from), to))
        }
    }
}

/// `vX`: from the nearest tag before `vX` to `vX`.
fn single(
    repo: &Repository,
    loose: &mut LooseObjects,
    tags: &TagIndex,
    rev: &str,
) -> Result<(Option<End>, End)> {
    let to = lookup(repo, loose, tags, rev)?;
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
fn lookup(repo: &Repository, loose: &mut LooseObjects, tags: &TagIndex, rev: &str) -> Result<End> {
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
    let tag = if repo.find_reference(&format!("refs/tags/{rev}")).is_ok() {
        Some(rev.to_owned())
    } else {
        tags.by_commit.get(&commit.id()).cloned()
    };
    end(repo, rev, commit.id(), tag)
}

fn end(repo: &Repository, rev: &str, oid: Oid, tag: Option<String>) -> Result<End> {
    let commit = repo
        .find_commit(oid)
        .map_err(git_at("cannot read commit", oid))?;
    // Tag names are written by whoever pushed them: what is shown is cleaned, while the
    // lookups above use the names as they are.
    Ok((
        RangeEnd {
            rev: text::sanitize(rev).into_owned(),
            commit: oid.to_string(),
            tag: tag.map(text::sanitize_owned),
            time: time_of(commit.committer().when()),
        },
        oid,
    ))
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

fn convert(commit: &git2::Commit<'_>, mailmap: Option<&Mailmap>) -> Result<Commit> {
    let (author, committer) = match mailmap {
        Some(map) => (
            commit.author_with_mailmap(map),
            commit.committer_with_mailmap(map),
        ),
        None => (Ok(commit.author()), Ok(commit.committer())),
    };
    let author = author.map_err(git_at("cannot read the author of", commit.id()))?;
    let committer = committer.map_err(git_at("cannot read the committer of", commit.id()))?;
    let encoding = commit.message_encoding().ok().flatten();
    let message = decode(commit.message_bytes(), encoding);
    let mut commit = Commit::from_message(
        hex(commit.id()),
        signature(&author, encoding),
        signature(&committer, encoding),
        &text::sanitize_multiline(&message),
        commit.parent_ids().map(hex).collect(),
    );
    // The message keeps its line breaks and tabs (the body needs them); the summary is one line.
    commit.summary = text::sanitize_owned(commit.summary);
    Ok(commit)
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

/// A signature, its name decoded like the message (the `encoding` header covers the commit).
fn signature(sig: &git2::Signature<'_>, encoding: Option<&str>) -> Signature {
    Signature {
        name: text::sanitize_owned(decode(sig.name_bytes(), encoding)),
        email: text::sanitize_owned(decode(sig.email_bytes(), encoding)),
        time: time_of(sig.when()),
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
