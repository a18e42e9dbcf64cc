//! Executors: where the items of a call actually run.
pub(crate) mod io_pool;
pub(crate) mod latch;
