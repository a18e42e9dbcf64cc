//! Early exit: `break` and `return` in `#[parallel]` loops, and the builder's
//! `try_fold_until` / `for_each_until` / `find_first` / `position_first` / `any` / `all`,
//! give the sequential loop's result and side effects (reductions, pushed vectors, the
//! error when an error comes first) for every plan, also when called from a rayon
//! worker or from an I/O worker.

use std::ops::ControlFlow;

use autopar::{Parallel, parallel};
use proptest::prelude::*;

/// What an item does: go on, break, return, or fail.
fn action(x: u32) -> u32 {
    x % 1000
}
const BREAK: u32 = 997;
const RETURN: u32 = 998;
const FAIL: u32 = 999;

/// The sequential loop every version must match: sums and pushes items, breaks,
/// returns or fails at marked items.
fn sequential(v: &[u32]) -> Result<(u64, Vec<u32>, Option<u32>), String> {
    let mut total = 0u64;
    let mut seen = Vec::new();
    for &x in v {
        if action(x) == FAIL {
            return Err(format!("bad {x}"));
        }
        total += x as u64;
        if action(x) == RETURN {
            return Ok((total, seen, Some(x)));
        }
        if action(x) == BREAK {
            break;
        }
        seen.push(x);
    }
    Ok((total, seen, None))
}

fn fails(x: u32) -> Result<(), String> {
    if action(x) == FAIL {
        Err(format!("bad {x}"))
    } else {
        Ok(())
    }
}

macro_rules! mixed_version {
    ($name:ident, $($options:tt)*) => {
        #[parallel($($options)*)]
        fn $name(v: &[u32]) -> Result<(u64, Vec<u32>, Option<u32>), String> {
            let mut total = 0u64;
            let mut seen = Vec::new();
            for &x in v {
                fails(x)?;
                total += x as u64;
                if action(x) == RETURN {
                    return Ok((0, Vec::new(), Some(x)));
                }
                if action(x) == BREAK {
                    break;
                }
                seen.push(x);
            }
            Ok((total, seen, None))
        }
    };
}

mixed_version!(mixed_auto, auto);
mixed_version!(mixed_seq, seq);
mixed_version!(mixed_cpu, cpu);
mixed_version!(mixed_cpu_chunk1, cpu, chunk = 1);
mixed_version!(mixed_cpu_chunk7, cpu, chunk = 7);
mixed_version!(mixed_io, io, workers = 4, chunk = 3);

/// The `#[parallel]` versions return `(0, [], Some(x))` on a `return`: the
/// reductions' values at a `return` are not observable, so the sequential loop's
/// are blanked for the comparison.
fn expected(v: &[u32]) -> Result<(u64, Vec<u32>, Option<u32>), String> {
    sequential(v).map(|r| match r.2 {
        Some(x) => (0, Vec::new(), Some(x)),
        None => r,
    })
}

type Version = fn(&[u32]) -> Result<(u64, Vec<u32>, Option<u32>), String>;
const VERSIONS: [(&str, Version); 6] = [
    ("auto", mixed_auto),
    ("seq", mixed_seq),
    ("cpu", mixed_cpu),
    ("cpu chunk 1", mixed_cpu_chunk1),
    ("cpu chunk 7", mixed_cpu_chunk7),
    ("io", mixed_io),
];

/// Inputs with a few marked items at random positions.
fn input() -> impl Strategy<Value = Vec<u32>> {
    (
        0usize..3000,
        proptest::collection::vec((any::<prop::sample::Index>(), 997u32..1000), 0..4),
    )
        .prop_map(|(n, marks)| {
            let mut v: Vec<u32> = (0..n as u32).map(|i| (i / 1000) * 1000 + i % 997).collect();
            for (at, mark) in marks {
                if n > 0 {
                    let i = at.index(n);
                    v[i] = (i as u32 / 1000) * 1000 + mark;
                }
            }
            v
        })
}

fn check_all(v: &[u32], context: &str) {
    let want = expected(v);
    for (name, version) in VERSIONS {
        assert_eq!(version(v), want, "{name} {context}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn breaks_returns_and_errors_match_the_sequential_loop(v in input()) {
        check_all(&v, "from the main thread");
    }

    #[test]
    fn the_same_from_a_rayon_worker(v in input()) {
        rayon::scope(|_| check_all(&v, "from a rayon worker"));
        rayon::in_place_scope(|s| s.spawn(|_| check_all(&v, "from a rayon worker")));
    }

    #[test]
    fn the_same_from_an_io_worker(v in input()) {
        Parallel::io().workers(2).for_each(0..2, |_| check_all(&v, "from an I/O worker"));
    }

    #[test]
    fn builder_forms_match_the_iterator_methods(v in input(), target in 990u32..1000) {
        let hit = |x: &u32| action(*x) == target;
        for p in [Parallel::auto(), Parallel::seq(), Parallel::cpu().chunk(5), Parallel::io().workers(3)] {
            prop_assert_eq!(p.find_first(&v, |x| hit(x)), v.iter().find(|x| hit(x)));
            prop_assert_eq!(p.position_first(&v, hit), v.iter().position(hit));
            prop_assert_eq!(p.any(&v, hit), v.iter().any(hit));
            prop_assert_eq!(p.all(&v, |x| !hit(x)), v.iter().all(|x| !hit(x)));
            prop_assert_eq!(
                p.find_map_first(&v, |x| hit(x).then_some(*x as u64 * 2)),
                v.iter().find_map(|x| hit(x).then_some(*x as u64 * 2))
            );
            // The general form: a sum and a vector up to the break, with errors.
            let folded = p.try_fold_until(
                &v,
                || (0u64, Vec::new()),
                |(sum, mut seen), &x| {
                    fails(x)?;
                    let sum = sum + x as u64;
                    if action(x) == RETURN || action(x) == BREAK {
                        return Ok(ControlFlow::Break(((sum, seen), x)));
                    }
                    seen.push(x);
                    Ok(ControlFlow::Continue((sum, seen)))
                },
                |(a, mut va), (b, vb)| {
                    va.extend(vb);
                    (a + b, va)
                },
            );
            let want = sequential_fold(&v);
            prop_assert_eq!(folded, want);
        }
    }
}

/// A sum and the items seen, and the item that stopped the loop.
type Folded = ((u64, Vec<u32>), Option<u32>);

fn sequential_fold(v: &[u32]) -> Result<Folded, String> {
    let (mut sum, mut seen) = (0u64, Vec::new());
    for &x in v {
        fails(x)?;
        sum += x as u64;
        if action(x) == RETURN || action(x) == BREAK {
            return Ok(((sum, seen), Some(x)));
        }
        seen.push(x);
    }
    Ok(((sum, seen), None))
}

#[parallel]
fn first_index(v: &[u32], target: u32) -> Option<usize> {
    for (i, &x) in v.iter().enumerate() {
        if x == target {
            return Some(i);
        }
    }
    None
}

#[parallel(cpu, chunk = 1000)]
fn count_until(v: &[u32], stop: u32) -> usize {
    let mut n = 0;
    'scan: for &x in v {
        // Inner loops keep their own `break`s; `break 'scan` stops the parallel loop.
        for d in 0..3 {
            if d == 1 {
                break;
            }
        }
        if x == stop {
            break 'scan;
        }
        n += 1;
    }
    n
}

#[parallel]
fn closures_keep_their_returns(v: &[u32]) -> u32 {
    let mut total = 0;
    for &x in v {
        // This `return` belongs to the closure, not to the loop.
        let f = |y: u32| {
            if y > 5 {
                return 1;
            }
            0
        };
        total += f(x);
    }
    total
}

#[parallel(cpu, chunk = 16)]
fn unit_return(v: &[u32], out: &mut Vec<u32>) {
    for &x in v {
        if x == 500 {
            return;
        }
        out.push(x);
    }
    out.push(u32::MAX);
}

#[test]
fn search_loops_return_the_first_index() {
    let v: Vec<u32> = (0..1_000_000).map(|i| i % 500_000).collect();
    for _ in 0..3 {
        assert_eq!(first_index(&v, 12_345), Some(12_345));
        assert_eq!(first_index(&v, 499_999), Some(499_999));
        assert_eq!(first_index(&v, 2_000_000), None);
    }
}

#[test]
fn labelled_break_of_the_loop_itself() {
    let v: Vec<u32> = (0..10_000).collect();
    assert_eq!(count_until(&v, 7_777), 7_777);
    assert_eq!(count_until(&v, 20_000), 10_000);
}

#[test]
fn returns_inside_closures_are_left_alone() {
    assert_eq!(closures_keep_their_returns(&[1, 6, 7, 2]), 2);
}

#[test]
fn a_plain_return_skips_the_code_after_the_loop() {
    let v: Vec<u32> = (0..1000).collect();
    let mut out = Vec::new();
    unit_return(&v, &mut out);
    assert_eq!(out, (0..500).collect::<Vec<_>>());
    let mut out = Vec::new();
    unit_return(&v[..10], &mut out);
    assert_eq!(out.last(), Some(&u32::MAX));
}

#[test]
fn a_panic_before_the_break_propagates() {
    let v: Vec<u32> = (0..10_000).collect();
    let r = std::panic::catch_unwind(|| {
        Parallel::cpu().chunk(10).position_first(&v, |&x| {
            assert!(x != 3_000, "boom");
            x == 9_000
        })
    });
    assert!(r.is_err());
    // A panic after the earliest match may or may not run; the answer never changes.
    let r = std::panic::catch_unwind(|| {
        Parallel::seq().position_first(&v, |&x| {
            assert!(x != 9_500, "boom");
            x == 9_000
        })
    });
    assert_eq!(r.ok(), Some(Some(9_000)));
}

#[test]
fn iterator_inputs_stop_early_too() {
    let n = Parallel::auto().position_first(autopar::iter((0..100_000u32).map(|x| x * 2)), |x| {
        x == 1_234
    });
    assert_eq!(n, Some(617));
    let f = Parallel::cpu()
        .chunk(3)
        .find_first(autopar::iter(0..100_000u32), |&x| x > 70_000);
    assert_eq!(f, Some(70_001));
}

/// A cold `auto` call (a call site of its own per use) of 200 slow items that stops
/// at `stop`.
macro_rules! slow_until {
    ($stop:expr) => {{
        let stop: usize = $stop;
        let items: Vec<usize> = (0..200).collect();
        Parallel::auto().try_fold_until(
            &items,
            Vec::new,
            |mut seen: Vec<usize>, &i| {
                std::thread::sleep(std::time::Duration::from_micros(30));
                if i == stop {
                    return Ok::<_, ()>(ControlFlow::Break((seen, i)));
                }
                seen.push(i);
                Ok(ControlFlow::Continue(seen))
            },
            |mut a, b| {
                a.extend(b);
                a
            },
        )
    }};
}

#[test]
fn slow_first_items_with_helpers_standing_by_keep_the_prefix() {
    // A cold `auto` call whose first item is slow starts helpers while it profiles:
    // their batches before the exit count, those after it do not.
    let want = |stop: usize| Ok(((0..stop).collect::<Vec<_>>(), Some(stop)));
    assert_eq!(slow_until!(0), want(0));
    assert_eq!(slow_until!(3), want(3));
    assert_eq!(slow_until!(40), want(40));
    assert_eq!(slow_until!(150), want(150));
    assert_eq!(slow_until!(1000), Ok(((0..200).collect(), None)));
}
