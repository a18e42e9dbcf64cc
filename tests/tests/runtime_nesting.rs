//! Loops inside loops: correct results, no deadlock, a bounded number of threads.

use std::time::Duration;

use autopar::Parallel;

fn os_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn modes() -> Vec<Parallel> {
    vec![
        Parallel::auto(),
        Parallel::cpu().chunk(1),
        Parallel::io().workers(16),
        Parallel::seq(),
    ]
}

#[test]
fn three_deep_in_every_combination() {
    for outer in modes() {
        for middle in modes() {
            for inner in modes() {
                let sums: Vec<u64> = outer.map(0..6u64, |i| {
                    middle
                        .map(0..5u64, |j| {
                            inner.reduce(
                                0..40u64,
                                || 0,
                                |a, k| {
                                    std::thread::sleep(Duration::from_micros(20));
                                    a + i * 100 + j * 10 + k
                                },
                                |a, b| a + b,
                            )
                        })
                        .into_iter()
                        .sum()
                });
                let expected: Vec<u64> = (0..6u64)
                    .map(|i| {
                        (0..5u64)
                            .map(|j| (0..40u64).map(|k| i * 100 + j * 10 + k).sum::<u64>())
                            .sum()
                    })
                    .collect();
                assert_eq!(sums, expected, "{outer:?} / {middle:?} / {inner:?}");
            }
        }
    }
    // The I/O pool never grows past its maximum, however deep the nesting.
    assert!(autopar::report().io_pool_threads <= 256);
    if cfg!(target_os = "linux") {
        assert!(os_threads() < 256 + 64, "{} threads", os_threads());
    }
}

#[test]
fn recursion_through_a_parallel_loop() {
    fn tree_sum(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        Parallel::auto().reduce(0..3u32, || 0, |a, _| a + tree_sum(depth - 1), |a, b| a + b)
    }
    assert_eq!(tree_sum(7), 3u64.pow(7));
}

#[test]
fn a_parallel_loop_inside_rayon_and_inside_the_io_pool() {
    use rayon::prelude::*;
    let from_rayon: Vec<usize> = (0..8usize)
        .into_par_iter()
        .map(|i| Parallel::auto().map(0..1000usize, |j| i + j).len())
        .collect();
    assert_eq!(from_rayon, vec![1000; 8]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let inside = pool.install(|| {
        Parallel::cpu()
            .chunk(10)
            .reduce(0..10_000u64, || 0, |a, x| a + x, |a, b| a + b)
    });
    assert_eq!(inside, (0..10_000u64).sum::<u64>());
    let from_io: Vec<u64> = Parallel::io().workers(8).map(0..8u64, |i| {
        Parallel::io()
            .workers(8)
            .reduce(0..100u64, || 0, |a, x| a + x + i, |a, b| a + b)
    });
    assert_eq!(
        from_io,
        (0..8u64).map(|i| 4950 + 100 * i).collect::<Vec<_>>()
    );
}
