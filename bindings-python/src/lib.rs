//! The native module of the `changelog` Python package (`changelog._native`): a thin layer over
//! changelog-core and changelog-store. It converts arguments and results, maps errors to
//! exceptions, and runs the core's futures on one tokio runtime, either waited on with the GIL
//! released (`generate`) or awaited from asyncio (`agenerate`). No changelog logic lives here.
//!
//! - [`generate`]: `generate`, `agenerate`, `estimate`, `aestimate`.
//! - [`bump`]: `bump`, `abump` and `Bump`, the next version.
//! - [`prepend`]: `prepend`, releases written into a changelog file.
//! - [`types`]: `Changelog`, `Section`, `Entry`, `Author`, `Stats`, `Usage`, `Verification`,
//!   `Estimate`.
//! - [`store`]: `Store`, `Page`, `ChangelogVersion`.
//! - [`errors`]: the exception hierarchy.
//! - [`checkout`]: the repository policy of a call; [`wait`]: the runtime and Ctrl-C.

mod bump;
mod checkout;
mod errors;
mod generate;
mod prepend;
mod store;
mod types;
mod wait;

// Reading a long history allocates many small strings; mimalloc does that markedly faster than
// the system allocator, as in the `changelog` binary. It serves this module's Rust allocations
// only: Python's objects are allocated by Python.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use pyo3::prelude::*;

/// Changelogs and release notes from git history (native module; import `changelog`).
#[pymodule(name = "_native")]
mod native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::bump::{PyBump, abump, bump};
    #[pymodule_export]
    use crate::generate::{aestimate, agenerate, estimate, generate};
    #[pymodule_export]
    use crate::prepend::prepend;
    #[pymodule_export]
    use crate::store::{PyChangelogVersion, PyPage, PyStore};
    #[pymodule_export]
    use crate::types::{
        PyAuthor, PyChangelog, PyEntry, PyEstimate, PySection, PyStats, PyUsage, PyVerification,
    };

    #[pymodule_init]
    fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
        super::init(module)
    }
}

fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // This module's libgit2 is its own (statically linked), and every call reads a history
    // once, front to back: the settings the `changelog` binary uses apply here too.
    changelog_core::source::git::tune_for_one_pass();
    errors::register(module)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
