//! `prepend`: releases written into a changelog file, as `changelog generate --prepend` writes
//! them (the core's [`prepend_file`]).

use std::path::PathBuf;

use changelog_core::Changelog;
use changelog_core::document::prepend_file;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::errors::Failure;
use crate::types::PyChangelog;

/// Writes changelogs (one, or a list newest first, as `generate(releases=...)` gives them) into
/// the changelog file at `path`, creating it when missing. A release the file has is replaced
/// where it stands, keeping what was edited by hand (entries are matched by the commit ids they
/// cite); a new one goes above the newest release. Every other byte of the file is kept, and
/// the file is replaced atomically (a read-only one only with `force=True`). Returns what
/// happened to each release (`"added 1.3.0"`, `"replaced 1.3.0, kept 1 edited entry"`).
#[pyfunction]
#[pyo3(signature = (path, changelogs, *, force = false))]
pub(crate) fn prepend(
    py: Python<'_>,
    path: PathBuf,
    changelogs: &Bound<'_, PyAny>,
    force: bool,
) -> PyResult<Vec<String>> {
    let documents: Vec<Changelog> = if let Ok(one) = changelogs.cast::<PyChangelog>() {
        vec![one.get().document.clone()]
    } else if let Ok(many) = changelogs.extract::<Vec<Bound<'_, PyChangelog>>>() {
        many.iter().map(|c| c.get().document.clone()).collect()
    } else {
        return Err(PyTypeError::new_err(
            "changelogs must be a Changelog or a list of Changelogs",
        ));
    };
    let done = py
        .detach(move || prepend_file(&path, &documents, force))
        .map_err(|e| Failure::from(e).into_pyerr(py))?;
    Ok(done.releases.iter().map(ToString::to_string).collect())
}
