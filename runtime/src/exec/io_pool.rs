//! Scoped jobs on the persistent I/O pool.
