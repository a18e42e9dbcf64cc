//! The I/O pool grows to what calls ask for, not beyond: alone in its process, so the
//! thread count is this test's alone.

use std::time::Duration;

use autopar::Parallel;

/// 49 pool threads + the caller make 50 workers. A few more may start when a call
/// begins while the previous call's threads are still leaving their jobs (they count
/// as busy for a moment); the old fault grew the pool by a whole call's worth per call.
const MOST: usize = 49 + 4;

#[test]
fn repeated_calls_reuse_the_pool_instead_of_growing_it() {
    let nap = |_: usize| std::thread::sleep(Duration::from_millis(1));
    // Five items ask for 200 workers: the caller and four pool threads are all they can
    // use (the first call of the process, so no thread existed before).
    Parallel::io().workers(200).for_each(0..5usize, nap);
    let threads = autopar::report().io_pool_threads;
    assert!(threads <= 4, "{threads} threads for 5 items");
    for _ in 0..5 {
        Parallel::io().workers(50).for_each(0..300usize, nap);
        let threads = autopar::report().io_pool_threads;
        assert!(threads <= MOST, "{threads} threads");
    }
    for _ in 0..200 {
        Parallel::io().workers(8).for_each(0..3usize, |_| ());
    }
    let threads = autopar::report().io_pool_threads;
    assert!(threads <= MOST, "{threads} threads");
}
