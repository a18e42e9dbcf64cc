//! Control flow in `#[parallel]` loops: `continue`, `?` in `Result` and
//! `Option` fns (fail-fast, same error and `From` conversion as the
//! sequential loop), labels.

use std::num::ParseIntError;

use autopar::parallel;
use proptest::prelude::*;

#[derive(Debug, PartialEq)]
enum AppError {
    Parse(String),
    Negative(i64),
}

impl From<ParseIntError> for AppError {
    fn from(e: ParseIntError) -> Self {
        AppError::Parse(e.to_string())
    }
}

fn check(x: i64) -> Result<i64, AppError> {
    if x < 0 {
        Err(AppError::Negative(x))
    } else {
        Ok(x)
    }
}

fn sequential_parse(v: &[String]) -> Result<i64, AppError> {
    let mut total = 0;
    for s in v {
        if s.is_empty() {
            continue;
        }
        let x: i64 = s.parse()?;
        total += check(x)?;
    }
    Ok(total)
}

macro_rules! parse_version {
    ($name:ident, $($options:tt)*) => {
        #[parallel($($options)*)]
        fn $name(v: &[String]) -> Result<i64, AppError> {
            let mut total = 0;
            for s in v {
                if s.is_empty() {
                    continue;
                }
                let x: i64 = s.parse()?;
                total += check(x)?;
            }
            Ok(total)
        }
    };
}

parse_version!(parse_auto, auto);
parse_version!(parse_cpu, cpu, chunk = 2);
parse_version!(parse_io, io, workers = 3, chunk = 1);
parse_version!(parse_seq, seq);

/// Inputs with at most one bad item, so every order of evaluation fails on it.
fn inputs() -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::vec(0i64..1000, 0..200),
        prop::option::of((any::<prop::sample::Index>(), 0u8..3)),
    )
        .prop_map(|(nums, bad)| {
            let mut v: Vec<String> = nums
                .iter()
                .map(|n| {
                    if n % 10 == 0 {
                        String::new()
                    } else {
                        n.to_string()
                    }
                })
                .collect();
            if let Some((at, kind)) = bad
                && !v.is_empty()
            {
                let i = at.index(v.len());
                v[i] = match kind {
                    0 => "not a number".to_string(),
                    1 => "-5".to_string(),
                    _ => "99999999999999999999".to_string(),
                };
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn question_mark_returns_the_sequential_result(v in inputs()) {
        let expected = sequential_parse(&v);
        prop_assert_eq!(&parse_auto(&v), &expected);
        prop_assert_eq!(&parse_cpu(&v), &expected);
        prop_assert_eq!(&parse_io(&v), &expected);
        prop_assert_eq!(&parse_seq(&v), &expected);
    }
}

#[test]
fn several_failures_return_one_of_them() {
    let v: Vec<String> = (0..1000)
        .map(|i| {
            if i % 100 == 7 {
                format!("-{i}")
            } else {
                i.to_string()
            }
        })
        .collect();
    match parse_cpu(&v) {
        Err(AppError::Negative(x)) => assert_eq!(x % 100, -7),
        other => panic!("expected a Negative error, got {other:?}"),
    }
}

/// `?` stops handing out iterations: far fewer than all items run.
#[parallel(cpu, chunk = 1)]
fn stop_early(n: usize, ran: &std::sync::atomic::AtomicUsize) -> Result<(), usize> {
    for i in 0..n {
        ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if i == 10 {
            Err(i)?;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    Ok(())
}

#[test]
fn question_mark_stops_the_loop() {
    let ran = std::sync::atomic::AtomicUsize::new(0);
    assert_eq!(stop_early(100_000, &ran), Err(10));
    let ran = ran.into_inner();
    assert!(ran < 50_000, "{ran} iterations ran after the failure");
}

#[parallel(cpu, chunk = 4)]
fn option_sum(v: &[Option<u32>]) -> Option<u32> {
    let mut total = 0;
    for x in v {
        total += (*x)?;
    }
    Some(total)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn question_mark_in_option_fn(v in prop::collection::vec(prop::option::weighted(0.98, 0u32..100), 0..200)) {
        let expected: Option<u32> = v.iter().copied().sum();
        prop_assert_eq!(option_sum(&v), expected);
    }
}

#[parallel]
fn labelled(rows: &[Vec<u32>]) -> (u32, u32) {
    let mut kept = 0;
    let mut inner_total = 0;
    #[parallel(cpu, chunk = 1)]
    'rows: for row in rows {
        'cells: for (i, x) in row.iter().enumerate() {
            if *x == 0 {
                // Skips the rest of this row: ends this iteration.
                continue 'rows;
            }
            if i > 3 {
                break 'cells;
            }
            inner_total += x;
        }
        kept += 1;
    }
    (kept, inner_total)
}

#[test]
fn labelled_continue_ends_the_iteration() {
    let rows = vec![
        vec![1, 2, 3],
        vec![4, 0, 5],
        vec![1, 1, 1, 1, 1, 1, 1],
        vec![],
    ];
    // Row 1 stops at its 0 (counting 4 first), row 2 breaks after 4 cells.
    assert_eq!(labelled(&rows), (3, 6 + 4 + 4));
}

/// `continue` inside a nested sequential loop belongs to that loop.
#[parallel(cpu, chunk = 2)]
fn inner_continue(rows: &[Vec<i32>]) -> i32 {
    let mut positives = 0;
    for row in rows {
        for x in row {
            if *x <= 0 {
                continue;
            }
            positives += 1;
        }
    }
    positives
}

#[test]
fn continue_of_an_inner_loop() {
    assert_eq!(inner_continue(&[vec![1, -1, 2], vec![0, 3]]), 3);
}
