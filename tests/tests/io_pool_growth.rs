//! The I/O pool grows to what calls ask for, not beyond: alone in its process, so the
//! thread count is this test's alone.

use std::time::Duration;

use autopar::Parallel;

#[test]
fn repeated_calls_reuse_the_pool_instead_of_growing_it() {
    let nap = |_: usize| std::thread::sleep(Duration::from_millis(1));
    for _ in 0..5 {
        Parallel::io().workers(50).for_each(0..300usize, nap);
        // 49 pool threads + the caller make 50 workers.
        assert!(
            autopar::report().io_pool_threads <= 49,
            "{}",
            autopar::report().io_pool_threads
        );
    }
    for _ in 0..200 {
        Parallel::io().workers(8).for_each(0..3usize, |_| ());
    }
    assert!(autopar::report().io_pool_threads <= 49);
}
