//! Errors under random injection: fail-fast returns an error the sequential loop could
//! have returned (one an item really returned) and stops promptly; fail-safe keeps one
//! outcome per input, in order. Through the API and through `#[parallel]`'s `?`.
//!
//! `runtime_failures.rs` checks one fixed failing item per plan and
//! `reliability.rs` the API's fail-safe `try_map` over 10^6 items.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use autopar::{Parallel, parallel};
use proptest::prelude::*;

/// Every way to run, with the inputs both indexed and as a plain iterator.
fn plans() -> Vec<Parallel> {
    vec![
        Parallel::auto(),
        Parallel::seq(),
        Parallel::cpu(),
        Parallel::cpu().chunk(1),
        Parallel::cpu().workers(3).chunk(7),
        Parallel::io().workers(4).chunk(3),
        Parallel::io().workers(16),
    ]
}

/// A deterministic pseudo-random choice of failing items: `i` fails when its hash under
/// `seed` falls below `density` (out of 2^16).
fn fails(seed: u64, density: u64, i: u64) -> bool {
    let mut h = (i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    h & 0xFFFF < density
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fail_fast_returns_an_error_an_item_really_returned(
        seed in any::<u64>(),
        density in prop_oneof![Just(0u64), 1u64..64, 64u64..4096, 4096u64..65536],
        n in 0u64..3000,
    ) {
        let first = (0..n).find(|&i| fails(seed, density, i));
        for plan in plans() {
            for iterator in [false, true] {
                let returned = Mutex::new(HashSet::new());
                let body = |i: u64| {
                    if fails(seed, density, i) {
                        returned.lock().unwrap().insert(i);
                        Err(i)
                    } else {
                        Ok(())
                    }
                };
                let result = if iterator {
                    plan.try_for_each(autopar::iter((0..n).filter(|_| true)), body)
                } else {
                    plan.try_for_each(0..n, body)
                };
                let returned = returned.into_inner().unwrap();
                match (first, result) {
                    (None, result) => prop_assert_eq!(result, Ok(()), "{:?}", plan),
                    (Some(_), Ok(())) => prop_assert!(false, "{:?}: an item failed, the loop succeeded", plan),
                    (Some(first), Err(e)) => {
                        prop_assert!(returned.contains(&e), "{:?}: {} is no error an item returned", plan, e);
                        prop_assert!(e >= first);
                        if plan.mode() == autopar::Mode::Seq {
                            prop_assert_eq!(e, first, "sequential must return the first error");
                        }
                    }
                }
            }
        }
    }
}

/// After the first error, the items that still start are those of the tasks already
/// handed out: at most workers × chunk.
#[test]
fn fail_fast_stops_within_workers_times_chunk() {
    struct Case {
        plan: Parallel,
        workers: usize,
        chunk: usize,
    }
    let cases = [
        Case {
            plan: Parallel::cpu().workers(4).chunk(4),
            workers: 4,
            chunk: 4,
        },
        Case {
            plan: Parallel::cpu().workers(2).chunk(16),
            workers: 2,
            chunk: 16,
        },
        Case {
            plan: Parallel::io().workers(8).chunk(2),
            workers: 8,
            chunk: 2,
        },
        Case {
            plan: Parallel::io().workers(3).chunk(5),
            workers: 3,
            chunk: 5,
        },
    ];
    const N: usize = 2000;
    for case in cases {
        for fail_at in [0, 101, 1000] {
            let failed = AtomicBool::new(false);
            let after = AtomicUsize::new(0);
            let result = case.plan.try_for_each(0..N, |i| {
                if failed.load(SeqCst) {
                    after.fetch_add(1, SeqCst);
                }
                thread::sleep(Duration::from_micros(200));
                if i == fail_at {
                    failed.store(true, SeqCst);
                    return Err(i);
                }
                Ok(())
            });
            assert_eq!(result, Err(fail_at), "{:?}", case.plan);
            let after = after.into_inner();
            let bound = case.workers * case.chunk;
            assert!(
                after <= bound,
                "{:?} failing at {fail_at}: {after} items started after the error (bound {bound})",
                case.plan
            );
        }
    }
}

#[derive(Debug, PartialEq)]
struct Rejected(u64);

fn check(seed: u64, density: u64, i: u64, returned: &Mutex<HashSet<u64>>) -> Result<u64, Rejected> {
    if fails(seed, density, i) {
        returned.lock().unwrap().insert(i);
        Err(Rejected(i))
    } else {
        Ok(i % 1000)
    }
}

#[parallel]
fn total_auto(
    n: u64,
    seed: u64,
    density: u64,
    returned: &Mutex<HashSet<u64>>,
) -> Result<u64, Rejected> {
    let mut total = 0;
    for i in 0..n {
        total += check(seed, density, i, returned)?;
    }
    Ok(total)
}

#[parallel(cpu, chunk = 5)]
fn total_cpu(
    n: u64,
    seed: u64,
    density: u64,
    returned: &Mutex<HashSet<u64>>,
) -> Result<u64, Rejected> {
    let mut total = 0;
    for i in 0..n {
        total += check(seed, density, i, returned)?;
    }
    Ok(total)
}

#[parallel(io, workers = 6, chunk = 2)]
fn total_io(
    n: u64,
    seed: u64,
    density: u64,
    returned: &Mutex<HashSet<u64>>,
) -> Result<u64, Rejected> {
    let mut total = 0;
    for i in 0..n {
        total += check(seed, density, i, returned)?;
    }
    Ok(total)
}

type Total = fn(u64, u64, u64, &Mutex<HashSet<u64>>) -> Result<u64, Rejected>;

/// `?` in a `#[parallel]` loop under random injection: an error one of the items
/// returned, or the sequential total when none failed.
#[test]
fn macro_question_mark_returns_an_error_an_item_returned() {
    let versions: [(&str, Total); 3] = [("auto", total_auto), ("cpu", total_cpu), ("io", total_io)];
    for case in 0..60u64 {
        let seed = case.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let density = [0, 3, 40, 900, 30_000][case as usize % 5];
        let n = (case * 37) % 2500;
        let first = (0..n).find(|&i| fails(seed, density, i));
        let sequential: u64 = (0..n).map(|i| i % 1000).sum();
        for (name, version) in versions {
            let returned = Mutex::new(HashSet::new());
            let result = version(n, seed, density, &returned);
            let returned = returned.into_inner().unwrap();
            match (first, result) {
                (None, result) => assert_eq!(result, Ok(sequential), "{name}"),
                (Some(_), Ok(total)) => panic!("{name}: an item failed, got Ok({total})"),
                (Some(first), Err(Rejected(e))) => {
                    assert!(
                        returned.contains(&e),
                        "{name}: {e} was not returned by an item"
                    );
                    assert!(e >= first, "{name}");
                }
            }
        }
    }
}

#[parallel]
fn outcomes(items: &[u64]) -> Vec<Result<u64, u64>> {
    let mut out = Vec::new();
    for &i in items {
        out.push(if fails(7, 9000, i) { Err(i) } else { Ok(i * 3) });
    }
    out
}

/// Fail-safe through the macro: collecting `Result`s keeps one outcome per input, in
/// order, over 10^6 items with ~14% failing.
#[test]
fn macro_fail_safe_collect_keeps_every_outcome_in_order() {
    let items: Vec<u64> = (0..1_000_000).collect();
    for _ in 0..2 {
        let out = outcomes(&items);
        assert_eq!(out.len(), items.len());
        for (i, r) in out.iter().enumerate() {
            let i = i as u64;
            assert_eq!(*r, if fails(7, 9000, i) { Err(i) } else { Ok(i * 3) });
        }
    }
}
