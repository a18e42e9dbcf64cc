//! Warm calls of a loop kept sequential run as a plain loop (no task wrapper): they must
//! still compute the same results, stop at the first error, let panics through with
//! their payload, and be counted in the report.
//!
//! The loops are pinned sequential (`Parallel::seq()`, which takes the same path as an
//! `auto` loop that decided sequential): an `auto` loop's decision depends on the
//! machine's load, and these tests are about the path, not the decision.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use autopar::Parallel;
use autopar::policy::Plan;
use autopar_tests::{only_plan, quiet_deliberate_panics, site};

/// Enough calls that all but the first and the 1-in-64 sampled ones take the plain-loop
/// path.
const CALLS: usize = 300;

#[test]
fn warm_sequential_calls_compute_what_the_loop_computes() {
    let data: Vec<u64> = (0..200).collect();
    for call in 0..CALLS {
        let offset = call as u64;
        let mapped = Parallel::seq()
            .label("warm seq map")
            .map(&data, |&x| x * 3 + offset);
        let expected: Vec<u64> = data.iter().map(|&x| x * 3 + offset).collect();
        assert_eq!(mapped, expected, "call {call}");

        let sum = Parallel::seq().label("warm seq reduce").reduce(
            0..200u64,
            || 0,
            |acc, x| acc + x * offset,
            |a, b| a + b,
        );
        assert_eq!(
            sum,
            (0..200u64).map(|x| x * offset).sum::<u64>(),
            "call {call}"
        );

        // An iterator of known length: the other input shape.
        let strings = Parallel::seq()
            .label("warm seq iter")
            .map(data.iter().map(|x| x + 1).collect::<Vec<_>>(), |x| {
                x.to_string()
            });
        assert_eq!(strings.len(), 200);
        assert_eq!(strings[199], "200");
    }
    for label in ["warm seq map", "warm seq reduce", "warm seq iter"] {
        assert_eq!(only_plan(label), Plan::Sequential, "{label}");
        let report = site(label);
        assert_eq!(report.calls, CALLS as u64, "{label}: every call counted");
        assert_eq!(
            report.items,
            200 * CALLS as u64,
            "{label}: every item counted"
        );
    }
}

#[test]
fn warm_sequential_calls_stop_at_the_first_error() {
    let ran = AtomicUsize::new(0);
    // One call site for every call: `fail_at` 50 means no item fails.
    let call = |fail_at: usize| {
        ran.store(0, Ordering::Relaxed);
        Parallel::seq()
            .label("warm seq errors")
            .try_for_each(0..50usize, |i| {
                ran.fetch_add(1, Ordering::Relaxed);
                if i >= fail_at { Err(i) } else { Ok(()) }
            })
    };
    // Warm the site up first: its first calls are not the plain-loop path.
    for _ in 0..100 {
        assert_eq!(call(50), Ok(()));
    }
    assert_eq!(only_plan("warm seq errors"), Plan::Sequential);
    for n in 0..CALLS {
        let fail_at = n % 50;
        assert_eq!(call(fail_at), Err(fail_at), "call {n}: the first error");
        assert_eq!(
            ran.load(Ordering::Relaxed),
            fail_at + 1,
            "call {n}: no item after the failing one ran"
        );
    }
    assert_eq!(only_plan("warm seq errors"), Plan::Sequential);
    assert_eq!(site("warm seq errors").calls, 100 + CALLS as u64);
}

#[test]
fn warm_sequential_calls_let_panics_through_and_keep_working() {
    quiet_deliberate_panics();
    let run = |fail: bool| {
        Parallel::seq().label("warm seq panics").map(0..64u32, |i| {
            if fail && i == 40 {
                std::panic::panic_any(format!("deliberate: item {i}"));
            }
            i * 2
        })
    };
    for call in 0..CALLS {
        if call % 3 == 0 {
            let payload = catch_unwind(AssertUnwindSafe(|| run(true)))
                .expect_err("the panic must reach the caller");
            assert_eq!(
                payload.downcast_ref::<String>().map(String::as_str),
                Some("deliberate: item 40"),
                "call {call}"
            );
        } else {
            assert_eq!(run(false), (0..64u32).map(|i| i * 2).collect::<Vec<_>>());
        }
    }
    assert_eq!(only_plan("warm seq panics"), Plan::Sequential);
}
