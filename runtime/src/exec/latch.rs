//! The scope latch of the I/O pool.
