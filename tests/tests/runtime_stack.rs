//! Loop bodies get the stack any thread would give them (std's and rayon's default: 2 MiB
//! unless `RUST_MIN_STACK` says otherwise), on autopar's I/O pool too: a body that
//! recurses deeply must not overflow on one pool and run fine on another.

use autopar::Parallel;
use autopar_tests::{in_child, run_child};

/// Recurses `depth` frames of at least 2 KiB each (about twice that in a debug build);
/// returns a checksum so that nothing is optimised away.
#[inline(never)]
fn deep(depth: usize) -> u64 {
    let frame = std::hint::black_box([depth as u8; 2048]);
    if depth == 0 {
        return u64::from(frame[0]);
    }
    deep(depth - 1) + u64::from(frame[depth % frame.len()])
}

#[test]
fn io_pool_items_get_a_default_sized_stack() {
    if !in_child() {
        // A stack overflow aborts the process: run the loop in a child.
        let out = run_child("io_pool_items_get_a_default_sized_stack", &[]);
        assert!(
            out.status.success(),
            "the child died ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    // 0.6 MiB of stack per item (1.2 MiB in a debug build): more than a 512 KiB stack
    // holds, within 2 MiB.
    let sums = Parallel::io()
        .workers(4)
        .map(0..8, |_| std::hint::black_box(deep(300)));
    assert_eq!(sums.len(), 8);
    assert!(sums.iter().all(|&s| s == sums[0]));
}
