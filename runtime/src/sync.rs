//! Synchronisation primitives, swapped for loom's model-checked ones under `cfg(loom)`.
