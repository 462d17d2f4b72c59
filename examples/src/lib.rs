//! Runnable examples of the changelog engine; see `examples/` for the programs.
