//! Python bindings of the changelog engine.
//!
//! The PyO3 module (importable as `changelog`, built into a wheel by maturin) is not written
//! yet; no Python package is built from this crate today. It sits in the workspace so that the
//! bindings depend on `changelog-core` from the start and never duplicate its logic.
