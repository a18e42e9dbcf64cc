//! Cold calls whose first item is slow: a pool thread standing by starts helpers before
//! profiling ends, and the call still gives the sequential loop's result.
//!
//! A standby only uses an idle I/O-pool thread, so each test first runs an I/O loop that
//! leaves a few threads idle. Every test uses its own call sites (cold on first call).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use autopar::Parallel;
use autopar_tests::quiet_deliberate_panics;

/// Leaves idle threads in the I/O pool (they wait 10 s for work before exiting), and
/// keeps the other tests of this file from using them until the guard drops.
fn idle_io_threads() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Parallel::io()
        .workers(8)
        .for_each(0..8, |_| thread::sleep(Duration::from_millis(2)));
    // The pool's threads count themselves idle just after the call returns.
    thread::sleep(Duration::from_millis(20));
    guard
}

#[test]
fn a_slow_first_item_does_not_hold_back_the_others() {
    let _pool = idle_io_threads();
    let caller = thread::current().id();
    let first_done: Mutex<Option<Instant>> = Mutex::new(None);
    let starts: Mutex<Vec<(usize, Instant, ThreadId)>> = Mutex::new(Vec::new());
    let out = Parallel::auto()
        .label("standby slow first")
        .map(0..6usize, |i| {
            starts
                .lock()
                .unwrap()
                .push((i, Instant::now(), thread::current().id()));
            if i == 0 {
                // Far longer than the standby's delay: profiling is stuck in item 0.
                thread::sleep(Duration::from_millis(300));
                *first_done.lock().unwrap() = Some(Instant::now());
            } else {
                thread::sleep(Duration::from_millis(1));
            }
            i * 10
        });
    assert_eq!(out, [0, 10, 20, 30, 40, 50]);
    let first_done = first_done.into_inner().unwrap().unwrap();
    let starts = starts.into_inner().unwrap();
    let early: Vec<_> = starts
        .iter()
        .filter(|(i, started, thread)| *i > 0 && *started < first_done && *thread != caller)
        .collect();
    assert_eq!(
        early.len(),
        5,
        "items 1..6 should all run on helpers while item 0 still runs: {starts:?}"
    );
}

#[test]
fn standby_calls_run_every_item_once_in_order() {
    let _pool = idle_io_threads();
    let runs = AtomicUsize::new(0);
    let out = Parallel::auto()
        .label("standby every item")
        .map(0..40usize, |i| {
            runs.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_micros(if i < 2 { 20_000 } else { 200 }));
            i
        });
    assert_eq!(out, (0..40).collect::<Vec<_>>());
    assert_eq!(runs.load(Ordering::Relaxed), 40);
    let sum = Parallel::auto().label("standby reduce").reduce(
        0..40u64,
        || 0,
        |acc, i| {
            thread::sleep(Duration::from_micros(if i == 0 { 20_000 } else { 100 }));
            acc + i
        },
        |a, b| a + b,
    );
    assert_eq!(sum, (0..40).sum::<u64>());
}

#[test]
fn errors_and_panics_of_helpers_reach_the_caller() {
    quiet_deliberate_panics();
    let pool = idle_io_threads();
    let result = Parallel::auto()
        .label("standby error")
        .try_for_each(0..30u32, |i| {
            thread::sleep(Duration::from_millis(if i == 0 { 20 } else { 1 }));
            if i == 17 { Err(i) } else { Ok(()) }
        });
    assert_eq!(result, Err(17));
    drop(pool);

    let _pool = idle_io_threads();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        Parallel::auto()
            .label("standby panic")
            .for_each(0..30u32, |i| {
                thread::sleep(Duration::from_millis(if i == 0 { 20 } else { 1 }));
                if i == 9 {
                    panic!("deliberate: item {i}");
                }
            })
    }));
    let payload = panicked.expect_err("the helper's panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<String>().unwrap(),
        "deliberate: item 9"
    );
}

/// Counts live values of the map below.
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Counted(#[allow(dead_code)] usize);

impl Counted {
    fn new(i: usize) -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Counted(i)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn outputs_of_a_standby_call_that_panics_are_dropped_exactly_once() {
    quiet_deliberate_panics();
    let _pool = idle_io_threads();
    for fail_at in [0usize, 3, 19] {
        let result = catch_unwind(AssertUnwindSafe(|| {
            Parallel::auto()
                .label("standby map panic")
                .map(0..20usize, |i| {
                    thread::sleep(Duration::from_millis(if i == 0 { 20 } else { 1 }));
                    if i == fail_at {
                        panic!("deliberate: item {i}");
                    }
                    Counted::new(i)
                })
        }));
        assert!(result.is_err(), "item {fail_at} panicked");
        assert_eq!(LIVE.load(Ordering::SeqCst), 0, "failing at {fail_at}");
    }
    let out = Parallel::auto()
        .label("standby map ok")
        .map(0..20usize, |i| {
            thread::sleep(Duration::from_millis(if i == 0 { 20 } else { 1 }));
            Counted::new(i)
        });
    assert_eq!(LIVE.load(Ordering::SeqCst), 20);
    drop(out);
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
}

/// The names of the threads that ran items, per item.
fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn a_cold_call_decided_for_the_cpu_pool_runs_on_the_caller_and_idle_io_threads() {
    if thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return; // One CPU: the plan is sequential.
    }
    let _pool = idle_io_threads();
    let caller = thread_name();
    let cold_call = || {
        Parallel::auto()
            .label("cold cpu plan on helpers")
            .map(0..3000usize, |i| {
                autopar_tests::spin_for(Duration::from_micros(5));
                (i, thread_name())
            })
    };
    // Items of a few µs: profiling ends before any standby helper starts, and the
    // decision is a CPU plan, run on the caller and the idle I/O-pool threads.
    let out = cold_call();
    assert_eq!(
        out.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (0..3000).collect::<Vec<_>>()
    );
    let on_caller = out.iter().filter(|(_, name)| *name == caller).count();
    let on_io = out
        .iter()
        .filter(|(_, name)| name.starts_with("autopar-io-"))
        .count();
    assert!(
        matches!(
            autopar_tests::only_plan("cold cpu plan on helpers"),
            autopar::policy::Plan::Cpu { .. }
        ),
        "expected a CPU plan"
    );
    assert_eq!(
        on_caller + on_io,
        3000,
        "only the caller and I/O-pool threads"
    );
    assert!(on_caller > 0 && on_io > 0, "caller {on_caller}, io {on_io}");
}

#[test]
fn errors_and_panics_of_a_cold_cpu_plan_on_helpers_reach_the_caller() {
    if thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return; // One CPU: the plan is sequential.
    }
    quiet_deliberate_panics();
    let pool = idle_io_threads();
    let result = Parallel::auto()
        .label("cold cpu plan error")
        .try_for_each(0..3000u32, |i| {
            autopar_tests::spin_for(Duration::from_micros(5));
            if i == 2500 { Err(i) } else { Ok(()) }
        });
    assert_eq!(result, Err(2500));
    drop(pool);

    let _pool = idle_io_threads();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        Parallel::auto()
            .label("cold cpu plan panic")
            .for_each(0..3000u32, |i| {
                autopar_tests::spin_for(Duration::from_micros(5));
                if i == 2000 {
                    panic!("deliberate: item {i}");
                }
            })
    }));
    let payload = panicked.expect_err("the panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<String>().unwrap(),
        "deliberate: item 2000"
    );
}
