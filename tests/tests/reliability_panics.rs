//! Panics in every mode: the original payload reaches the caller only after every
//! iteration in flight finished, no new work is handed out once the panic is seen,
//! everything produced is dropped exactly once (map outputs, reduce accumulators,
//! try_fold accumulators and errors), and the site and the pools work on the next call.
//!
//! `reliability.rs` covers map outputs after a panic and thread counts after many
//! panicking calls; this file adds the timing and bounds around the panic.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use autopar::Parallel;
use autopar_tests::{quiet_deliberate_panics, site, spin_for};

/// The payload our items panic with: a type nobody else uses, so a payload that arrives
/// is provably the original one.
#[derive(Debug, PartialEq)]
struct Boom(usize);

/// A forced plan, with how many threads may run items and how many items a task holds.
struct Forced {
    plan: Parallel,
    workers: usize,
    chunk: usize,
}

fn forced_plans() -> Vec<Forced> {
    vec![
        Forced {
            plan: Parallel::seq(),
            workers: 1,
            chunk: 1,
        },
        Forced {
            plan: Parallel::cpu().workers(4).chunk(4),
            workers: 4,
            chunk: 4,
        },
        Forced {
            plan: Parallel::cpu().workers(2).chunk(1),
            workers: 2,
            chunk: 1,
        },
        Forced {
            plan: Parallel::io().workers(4).chunk(3),
            workers: 4,
            chunk: 3,
        },
        Forced {
            plan: Parallel::io().workers(8).chunk(1),
            workers: 8,
            chunk: 1,
        },
    ]
}

/// What the items of one call saw.
#[derive(Default)]
struct Probe {
    in_flight: AtomicUsize,
    started: AtomicUsize,
    /// Items that started after the panicking item began to panic.
    started_after: AtomicUsize,
    panicked: AtomicBool,
}

impl Probe {
    /// One item: counts itself, takes `cost`, and panics with `Boom(i)` if `i == fail_at`.
    fn item(&self, i: usize, fail_at: usize, cost: Duration) {
        if self.panicked.load(SeqCst) {
            self.started_after.fetch_add(1, SeqCst);
        }
        self.started.fetch_add(1, SeqCst);
        self.in_flight.fetch_add(1, SeqCst);
        if i == fail_at {
            self.in_flight.fetch_sub(1, SeqCst);
            self.panicked.store(true, SeqCst);
            panic_any(Boom(i));
        }
        thread::sleep(cost);
        self.in_flight.fetch_sub(1, SeqCst);
    }
}

#[test]
fn payload_arrives_after_in_flight_items_and_no_new_work_starts() {
    quiet_deliberate_panics();
    const N: usize = 400;
    for forced in forced_plans() {
        for fail_at in [0, 37, N - 1] {
            let probe = Probe::default();
            let payload = catch_unwind(AssertUnwindSafe(|| {
                forced
                    .plan
                    .for_each(0..N, |i| probe.item(i, fail_at, Duration::from_micros(300)))
            }))
            .expect_err("the panic must reach the caller");
            // Every iteration that started had finished when the caller got control.
            let in_flight = probe.in_flight.load(SeqCst);
            assert_eq!(
                in_flight, 0,
                "{:?}: returned with items running",
                forced.plan
            );
            assert_eq!(
                payload.downcast_ref::<Boom>(),
                Some(&Boom(fail_at)),
                "{:?}: not the original payload",
                forced.plan
            );
            // Each worker may finish the task it holds; the panicking worker abandons
            // the rest of its own, which leaves room for one task handed out while the
            // panic unwinds to the runtime's catch.
            let after = probe.started_after.load(SeqCst);
            let bound = forced.workers * forced.chunk;
            assert!(
                after <= bound,
                "{:?} failing at {fail_at}: {after} items started after the panic (bound {bound})",
                forced.plan
            );
        }
        // The site and its pool still work, in parallel where the plan is.
        let ids = Mutex::new(HashSet::<ThreadId>::new());
        let out = forced.plan.map(0..64usize, |i| {
            thread::sleep(Duration::from_millis(1));
            ids.lock().unwrap().insert(thread::current().id());
            i * 3
        });
        assert!(out.iter().copied().eq((0..64).map(|i| i * 3)));
        let threads = ids.into_inner().unwrap().len();
        assert!(
            threads >= forced.workers.min(2),
            "{:?}: the pool lost its threads ({threads} used)",
            forced.plan
        );
    }
}

/// The I/O pool after panics still overlaps blocking items: 40 × 5 ms on 8 workers
/// would take 200 ms sequentially.
#[test]
fn io_pool_still_overlaps_blocking_items_after_panics() {
    quiet_deliberate_panics();
    let plan = Parallel::io().workers(8).chunk(1);
    for call in 0..50usize {
        let r = catch_unwind(AssertUnwindSafe(|| {
            plan.for_each(0..32usize, |i| {
                thread::sleep(Duration::from_micros(200));
                if i == call % 32 {
                    panic_any(Boom(i));
                }
            })
        }));
        assert_eq!(
            r.unwrap_err().downcast_ref::<Boom>(),
            Some(&Boom(call % 32))
        );
    }
    let started = Instant::now();
    plan.for_each(0..40usize, |_| thread::sleep(Duration::from_millis(5)));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(150), "took {took:?}");
}

/// `auto` on a site that has not decided yet panics while it profiles its first items
/// (on the calling thread). The payload arrives; the site learned nothing from the
/// aborted profile, so every such call profiles again; and the first call that does not
/// panic decides and runs correctly.
#[test]
fn auto_panicking_while_profiling_a_fresh_site() {
    quiet_deliberate_panics();
    fn call(fail_at: Option<usize>, threads: &Mutex<HashSet<ThreadId>>) -> Vec<usize> {
        Parallel::auto()
            .label("panics while profiling")
            .map(0..4000usize, |i| {
                // ~20 µs per item: profiling (≈100 µs) covers at least the first 5.
                spin_for(Duration::from_micros(20));
                if Some(i) == fail_at {
                    threads.lock().unwrap().insert(thread::current().id());
                    panic_any(Boom(i));
                }
                i + 1
            })
    }
    for fail_at in [0, 1, 2, 3, 4] {
        let threads = Mutex::new(HashSet::new());
        let payload = catch_unwind(AssertUnwindSafe(|| call(Some(fail_at), &threads)))
            .expect_err("the panic must reach the caller");
        assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(fail_at)));
        let threads = threads.into_inner().unwrap();
        assert_eq!(
            threads,
            HashSet::from([thread::current().id()]),
            "item {fail_at} did not panic while profiling on the calling thread"
        );
        let report = site("panics while profiling");
        assert!(
            report.profile.is_none() && report.classes.iter().all(|c| c.plan.is_none()),
            "a profile that panicked must not be learned: {report:?}"
        );
    }
    let out = call(None, &Mutex::new(HashSet::new()));
    assert!(out.iter().copied().eq(1..=4000));
    let report = site("panics while profiling");
    assert!(
        report.profile.is_some() && report.classes.iter().all(|c| c.plan.is_some()),
        "{report:?}"
    );
}

/// Counts creations and drops of [`Tracked`] values, per test.
#[derive(Debug, Default)]
struct Counts {
    created: AtomicUsize,
    dropped: AtomicUsize,
}

impl Counts {
    fn reset(&self) {
        self.created.store(0, SeqCst);
        self.dropped.store(0, SeqCst);
    }
    fn balanced(&self) -> bool {
        self.created.load(SeqCst) == self.dropped.load(SeqCst)
    }
    fn created(&self) -> usize {
        self.created.load(SeqCst)
    }
}

/// A value that counts its creations and drops in `counts`.
#[derive(Debug)]
struct Tracked {
    counts: &'static Counts,
    #[allow(dead_code)]
    value: usize,
}

impl Tracked {
    fn new(counts: &'static Counts, value: usize) -> Self {
        counts.created.fetch_add(1, SeqCst);
        Tracked { counts, value }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counts.dropped.fetch_add(1, SeqCst);
    }
}

/// Every plan, with `auto` at a site that is still fresh for small `fail_at`.
fn every_plan() -> Vec<Parallel> {
    let mut plans: Vec<Parallel> = forced_plans().into_iter().map(|f| f.plan).collect();
    plans.push(Parallel::auto());
    plans
}

#[test]
fn reduce_accumulators_are_dropped_exactly_once_after_a_panic() {
    quiet_deliberate_panics();
    static COUNTS: Counts = Counts {
        created: AtomicUsize::new(0),
        dropped: AtomicUsize::new(0),
    };
    for plan in every_plan() {
        for fail_at in [0, 3, 700, 1999] {
            COUNTS.reset();
            let result = catch_unwind(AssertUnwindSafe(|| {
                plan.reduce(
                    0..2000usize,
                    || vec![Tracked::new(&COUNTS, usize::MAX)],
                    |mut acc, i| {
                        if i == fail_at {
                            panic_any(Boom(i));
                        }
                        acc.push(Tracked::new(&COUNTS, i));
                        acc
                    },
                    |mut a, b| {
                        a.extend(b);
                        a
                    },
                )
            }));
            assert_eq!(
                result.unwrap_err().downcast_ref::<Boom>(),
                Some(&Boom(fail_at))
            );
            assert!(COUNTS.created() > 0);
            assert!(
                COUNTS.balanced(),
                "{plan:?} failing at {fail_at}: leaked or double drop"
            );
        }
    }
}

#[test]
fn try_fold_accumulators_and_errors_are_dropped_exactly_once() {
    quiet_deliberate_panics();
    static COUNTS: Counts = Counts {
        created: AtomicUsize::new(0),
        dropped: AtomicUsize::new(0),
    };
    for plan in every_plan() {
        for first_failure in [0, 2, 333, 1999] {
            // Several items fail, each with its own tracked error: the one returned and
            // every other one must be dropped exactly once.
            COUNTS.reset();
            let fails = |i: usize| i == first_failure || (i > first_failure && i % 97 == 13);
            let result = plan.try_fold(
                0..2000usize,
                Vec::new,
                |mut acc, i| {
                    if fails(i) {
                        return Err(Tracked::new(&COUNTS, i));
                    }
                    acc.push(Tracked::new(&COUNTS, i));
                    Ok(acc)
                },
                |mut a, b| {
                    a.extend(b);
                    a
                },
            );
            let error = result.expect_err("an item failed");
            assert!(
                fails(error.value),
                "{plan:?}: error {error:?} of an item that did not fail"
            );
            drop(error);
            assert!(
                COUNTS.balanced(),
                "{plan:?} failing at {first_failure}: errors or accumulators leaked"
            );

            // And a panic in a fallible fold.
            COUNTS.reset();
            let result = catch_unwind(AssertUnwindSafe(|| {
                plan.try_fold(
                    0..2000usize,
                    Vec::new,
                    |mut acc, i| {
                        if i == first_failure {
                            panic_any(Boom(i));
                        }
                        if i % 501 == 500 {
                            return Err(Tracked::new(&COUNTS, i));
                        }
                        acc.push(Tracked::new(&COUNTS, i));
                        Ok(acc)
                    },
                    |mut a, b| {
                        a.extend(b);
                        a
                    },
                )
            }));
            // A panic wins over errors; otherwise an error of an item that failed.
            match result {
                Err(payload) => {
                    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(first_failure)))
                }
                Ok(Err(error)) => assert!(
                    error.value % 501 == 500 && error.value > 0,
                    "{plan:?}: {error:?}"
                ),
                Ok(Ok(_)) => panic!("{plan:?}: a failing loop succeeded"),
            }
            assert!(
                COUNTS.balanced(),
                "{plan:?} panicking at {first_failure}: leaked or double drop"
            );
        }
    }
}
