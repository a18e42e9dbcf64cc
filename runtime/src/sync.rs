//! Synchronisation primitives, swapped for loom's model-checked ones under `cfg(loom)`.
//!
//! Code that is model-checked (the scope latch, the I/O pool's doorbell, the site cache's entry list) takes its primitives from here, so the same
//! source runs on `std` normally and under loom's scheduler in
//! `RUSTFLAGS="--cfg loom" cargo test -p autopar --release --lib loom`.
//! loom is a dev-dependency, so `cfg(loom)` is only meant for test builds. Loom's types panic
//! outside `loom::model`, so code that is not model-checked (e.g. the pool's global state)
//! uses `std` directly.

#[cfg(loom)]
pub(crate) use loom::sync::{
    Condvar, Mutex,
    atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering},
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    Condvar, Mutex,
    atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering},
};
