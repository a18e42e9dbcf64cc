//! Shared helpers for autopar integration tests.
