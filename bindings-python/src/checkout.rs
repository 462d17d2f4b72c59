//! The repository policy of a Python call, read from its keyword arguments.
//!
//! The core's [`obtain`](changelog_core::source::git::obtain) decides what `repo_url` may name.
//! A Python caller often passes a value it was given (a web service's request field), so the
//! wheel's default is the strict policy: HTTPS clones of public hosts only. Local paths are read
//! only when the caller opts in, with `allow_local=True` (any path) or `allowed_roots=[...]`
//! (paths under those directories); `allowed_hosts=[...]` limits clones to those hosts.

use std::path::PathBuf;

use changelog_core::source::git::RepoPolicy;

/// The policy arguments as Python passed them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyArguments {
    pub(crate) allow_local: bool,
    pub(crate) allowed_roots: Option<Vec<PathBuf>>,
    pub(crate) allowed_hosts: Option<Vec<String>>,
}

impl PolicyArguments {
    /// The policy a call runs under.
    pub(crate) fn policy(self) -> RepoPolicy {
        let mut policy = RepoPolicy::default();
        policy.any_local_path = self.allow_local;
        // The caller's own repositories may be read with revision expressions (`HEAD~3`).
        policy.revision_expressions = self.allow_local;
        policy.local_roots = self.allowed_roots.unwrap_or_default();
        policy.allowed_hosts = self.allowed_hosts;
        policy
    }
}
