//! Hostile use that once broke autopar: an input iterator that panics, errors found out
//! of order by nested calls, panic payloads that panic when dropped, and absurd chunk
//! sizes on streams (`reliability_cpu_bound.rs` has I/O workers whose items start CPU
//! loops). Each call runs under a
//! watchdog: a hang fails the test instead of stalling the suite.

use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use autopar::Parallel;
use autopar_tests::{quiet_deliberate_panics, spin_for};

/// Runs `f` on a thread of its own and fails if it has not returned within a minute.
fn within_a_minute<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("{what}: no answer within a minute (hang)"),
    }
}

/// The payload a failing input iterator panics with.
#[derive(Debug)]
struct IteratorBroke(u64);

/// An endless stream whose `next` panics when asked for item `fail_at`; counts the
/// `next` calls it answered.
struct Breaking<'a> {
    next: u64,
    fail_at: u64,
    asked: &'a AtomicUsize,
}

impl Iterator for Breaking<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.asked.fetch_add(1, SeqCst);
        if self.next == self.fail_at {
            panic_any(IteratorBroke(self.next));
        }
        self.next += 1;
        Some(self.next - 1)
    }
}

fn plans() -> Vec<(&'static str, Parallel)> {
    vec![
        ("auto", Parallel::auto()),
        ("cpu", Parallel::cpu()),
        ("cpu, chunk 7", Parallel::cpu().workers(4).chunk(7)),
        ("io", Parallel::io().workers(8)),
        ("io, chunk 1", Parallel::io().workers(16).chunk(1)),
        ("seq", Parallel::seq()),
    ]
}

#[test]
fn a_panicking_input_iterator_stops_the_loop_and_reaches_the_caller() {
    quiet_deliberate_panics();
    for (name, plan) in plans() {
        for fail_at in [3, 1000, 20_000] {
            let (asked, ran, payload) = within_a_minute(name, move || {
                let asked = AtomicUsize::new(0);
                let ran = AtomicUsize::new(0);
                let stream = Breaking {
                    next: 0,
                    fail_at,
                    asked: &asked,
                };
                let result = catch_unwind(AssertUnwindSafe(|| {
                    plan.label("panicking iterator")
                        .for_each(autopar::iter(stream), |_| {
                            ran.fetch_add(1, SeqCst);
                        })
                }));
                (asked.into_inner(), ran.into_inner(), result.err())
            });
            let payload = payload.unwrap_or_else(|| panic!("{name}: the loop returned normally"));
            assert_eq!(
                payload.downcast_ref::<IteratorBroke>().map(|p| p.0),
                Some(fail_at),
                "{name}: the iterator's own payload reaches the caller"
            );
            assert_eq!(
                asked,
                fail_at as usize + 1,
                "{name}: the iterator is never asked again after it panicked"
            );
            assert!(ran <= fail_at as usize, "{name}: {ran} items ran");
        }
    }
}

/// The positions of `errors` pseudo-random failing items among `len`, from `seed`.
fn failing_items(seed: u64, len: u64, errors: usize) -> Vec<u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..errors)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % len
        })
        .collect()
}

/// The error of `plan` over `0..len` failing at `failing`.
fn first_error(plan: Parallel, len: u64, failing: &[u64]) -> Result<(), u64> {
    plan.try_for_each(
        0..len,
        |i| {
            if failing.contains(&i) { Err(i) } else { Ok(()) }
        },
    )
}

#[test]
fn the_earliest_error_wins_from_any_thread() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let len = 200_000;
    for seed in 0..12 {
        let failing = failing_items(seed, len, 1 + seed as usize % 6);
        let expected = Err(*failing.iter().min().unwrap());
        let plans = || {
            [
                Parallel::cpu(),
                Parallel::cpu().chunk(1),
                Parallel::cpu().workers(4).chunk(64),
                Parallel::io().workers(8).chunk(100),
                Parallel::auto(),
            ]
        };
        for plan in plans() {
            assert_eq!(first_error(plan, len, &failing), expected, "seed {seed}");
        }
        // Called on a rayon worker (a nested loop): fork-join instead of runners.
        for plan in plans() {
            let got = pool.install(|| first_error(plan, len, &failing));
            assert_eq!(got, expected, "seed {seed}, on a rayon worker");
        }
        // On an I/O-pool thread.
        let on_io = Parallel::io().workers(2).chunk(1).map(0..2, |_| {
            plans()
                .into_iter()
                .map(|plan| first_error(plan, len, &failing))
                .collect::<Vec<_>>()
        });
        for got in on_io.into_iter().flatten() {
            assert_eq!(got, expected, "seed {seed}, on an I/O worker");
        }
    }
}

/// A panic payload whose own `Drop` panics.
struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic_any(DropBombWentOff);
        }
    }
}

/// What a [`DropBomb`] panics with when dropped.
struct DropBombWentOff;

#[test]
fn payloads_that_panic_on_drop_never_abort() {
    quiet_deliberate_panics();
    for plan in [
        Parallel::cpu().chunk(1),
        Parallel::cpu().workers(4).chunk(2),
        Parallel::io().workers(8),
        Parallel::auto(),
    ] {
        for _ in 0..10 {
            let result = catch_unwind(AssertUnwindSafe(|| {
                plan.for_each(0..64u32, |_| {
                    spin_for(Duration::from_micros(50));
                    panic_any(DropBomb);
                })
            }));
            let payload = result.expect_err("every item panics");
            assert!(payload.is::<DropBomb>());
            // The caller's payload is the caller's: dropping it panics, as it would with
            // the plain loop.
            std::mem::forget(payload);
        }
        // The pools still work.
        let sum = plan.reduce(0..1000u64, || 0, |a, i| a + i, |a, b| a + b);
        assert_eq!(sum, 499_500);
    }
}

#[test]
fn a_huge_chunk_on_a_stream_stays_bounded() {
    for plan in [
        Parallel::cpu().chunk(usize::MAX),
        Parallel::io().workers(4).chunk(usize::MAX),
        Parallel::auto().chunk(usize::MAX),
    ] {
        let stop = 100_000u64;
        let result = within_a_minute("huge chunk", move || {
            plan.try_for_each(autopar::iter(0u64..), |i| {
                if i == stop { Err(i) } else { Ok(()) }
            })
        });
        assert_eq!(result, Err(stop));
    }
}
