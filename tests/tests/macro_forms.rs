//! The fn and loop forms `#[parallel]` supports, checked against sequential
//! results: methods, generic and async fns, loop patterns, `&mut` inputs
//! mutated in place, indexed writes, forced modes, nested loops.

use std::collections::BTreeMap;

use autopar::parallel;
use proptest::prelude::*;

struct Histogram {
    buckets: usize,
    data: Vec<u32>,
}

impl Histogram {
    /// `&self` method: the body reads `self` (shared between workers).
    #[parallel(cpu, chunk = 16)]
    fn counts(&self) -> Vec<usize> {
        let mut hits = Vec::new();
        // Marked: only this loop runs in parallel (the histogram below
        // writes shared counters and stays sequential).
        #[parallel]
        for x in &self.data {
            hits.push(*x as usize % self.buckets);
        }
        let mut counts = vec![0; self.buckets];
        for h in hits {
            counts[h] += 1;
        }
        counts
    }

    /// `&mut self` method: the loop mutates the elements in place.
    #[parallel]
    fn halve(&mut self) {
        #[parallel(cpu, chunk = 8)]
        for x in self.data.iter_mut() {
            *x /= 2;
        }
    }
}

/// A generic fn.
#[parallel(cpu, chunk = 4)]
fn largest<T: Ord + Copy + Send + Sync>(v: &[T], floor: T) -> T {
    let mut best = floor;
    for x in v {
        best = best.max(*x);
    }
    best
}

/// Patterns: `(i, x)`, `&x`, `(k, v)` over a map, `(a, b)` over a zip.
#[parallel]
fn patterns(v: &[u64], map: &BTreeMap<u64, u64>) -> (u64, u64, u64, u64) {
    let (mut weighted, mut plain, mut keyed, mut dot) = (0, 0, 0, 0);
    #[parallel(cpu, chunk = 3)]
    for (i, x) in v.iter().enumerate() {
        weighted += i as u64 * x;
    }
    #[parallel(io, chunk = 5)]
    for &x in v {
        plain += x;
    }
    #[parallel(cpu, chunk = 2)]
    for (k, val) in map {
        keyed += k * val;
    }
    #[parallel(cpu)]
    for (a, b) in v.iter().zip(v.iter().rev()) {
        dot += a * b;
    }
    (weighted, plain, keyed, dot)
}

/// `&mut` slices: `for x in v` where `v: &mut [T]`, and `&mut Vec`.
#[allow(clippy::ptr_arg)] // `&mut Vec` on purpose: it is one of the input forms
#[parallel(cpu, chunk = 7)]
fn square_all(v: &mut [i64], w: &mut Vec<i64>) {
    for x in v {
        *x *= *x;
    }
    for x in w.iter_mut() {
        *x += 1;
    }
}

/// Indexed writes: `out[i] = ..`, compound `out[i] += ..`, 2-D rows.
#[allow(clippy::ptr_arg)] // `&mut Vec` on purpose: it is one of the input forms
#[parallel]
fn indexed(src: &[i64], out: &mut [i64], grid: &mut Vec<Vec<i64>>) {
    #[parallel(cpu, chunk = 3)]
    for i in 0..out.len().min(src.len()) {
        out[i] = src[i] * 3;
        out[i] += 1;
    }
    #[parallel(cpu, chunk = 1)]
    for r in 0..grid.len() {
        for c in 0..grid[r].len() {
            grid[r][c] = (r * 10 + c) as i64;
        }
        grid[r].push(-1);
    }
}

/// Nested parallel loops (allowed): the inner loop's reduction feeds the
/// outer loop's.
#[parallel(cpu, chunk = 2, allow_nested)]
fn nested(rows: &[Vec<u32>]) -> (u64, Vec<u32>, u64) {
    let mut total = 0u64;
    let mut maxima = Vec::new();
    let mut below = 1_000_000u64;
    #[parallel]
    for row in rows {
        let mut row_max = 0;
        #[parallel(cpu, chunk = 3)]
        for x in row {
            total += u64::from(*x);
            row_max = row_max.max(*x);
            below -= 1;
        }
        maxima.push(row_max);
    }
    (total, maxima, below)
}

/// An async fn: the loop runs (synchronously) inside it.
#[parallel(io, workers = 4)]
async fn async_sum(v: &[u32]) -> Result<u32, String> {
    let mut total = 0;
    for x in v {
        if *x == u32::MAX {
            Err("too big".to_string())?;
        }
        total += x;
    }
    Ok(total)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn methods(data in prop::collection::vec(0u32..10_000, 0..300), buckets in 1usize..9) {
        let mut h = Histogram { buckets, data: data.clone() };
        let mut expected = vec![0; buckets];
        for x in &data {
            expected[*x as usize % buckets] += 1;
        }
        prop_assert_eq!(h.counts(), expected);
        h.halve();
        prop_assert_eq!(h.data, data.iter().map(|x| x / 2).collect::<Vec<_>>());
    }

    #[test]
    fn generic_fn(v in prop::collection::vec(any::<i16>(), 0..300)) {
        prop_assert_eq!(largest(&v, i16::MIN), v.iter().copied().max().unwrap_or(i16::MIN));
        let words: Vec<&str> = v.iter().map(|x| if x % 2 == 0 { "even" } else { "odd" }).collect();
        prop_assert_eq!(largest(&words, ""), words.iter().copied().max().unwrap_or(""));
    }

    #[test]
    fn loop_patterns(v in prop::collection::vec(0u64..1000, 0..300)) {
        let map: BTreeMap<u64, u64> = v.iter().map(|x| (*x, x % 7)).collect();
        let expected = (
            v.iter().enumerate().map(|(i, x)| i as u64 * x).sum(),
            v.iter().sum(),
            map.iter().map(|(k, val)| k * val).sum(),
            v.iter().zip(v.iter().rev()).map(|(a, b)| a * b).sum(),
        );
        prop_assert_eq!(patterns(&v, &map), expected);
    }

    #[test]
    fn mutable_slices(v in prop::collection::vec(-1000i64..1000, 0..300)) {
        let mut a = v.clone();
        let mut b = v.clone();
        square_all(&mut a, &mut b);
        prop_assert_eq!(a, v.iter().map(|x| x * x).collect::<Vec<_>>());
        prop_assert_eq!(b, v.iter().map(|x| x + 1).collect::<Vec<_>>());
    }

    #[test]
    fn indexed_writes(src in prop::collection::vec(-1000i64..1000, 0..300), extra in 0usize..5, rows in 0usize..20) {
        let mut out = vec![0; src.len() + extra];
        let mut grid = vec![vec![0; 3]; rows];
        indexed(&src, &mut out, &mut grid);
        let mut expected: Vec<i64> = src.iter().map(|x| x * 3 + 1).collect();
        expected.extend(std::iter::repeat_n(0, extra));
        prop_assert_eq!(out, expected);
        for (r, row) in grid.iter().enumerate() {
            let want: Vec<i64> = (0..3).map(|c| (r * 10 + c) as i64).chain([-1]).collect();
            prop_assert_eq!(row, &want);
        }
    }

    #[test]
    fn nested_loops(rows in prop::collection::vec(prop::collection::vec(0u32..100, 0..20), 0..30)) {
        let total: u64 = rows.iter().flatten().map(|x| u64::from(*x)).sum();
        let maxima: Vec<u32> = rows.iter().map(|r| r.iter().copied().max().unwrap_or(0)).collect();
        let cells = rows.iter().map(Vec::len).sum::<usize>() as u64;
        prop_assert_eq!(nested(&rows), (total, maxima, 1_000_000 - cells));
    }

    #[test]
    fn async_fn(v in prop::collection::vec(0u32..1000, 0..200)) {
        prop_assert_eq!(block_on(async_sum(&v)), Ok(v.iter().sum()));
    }
}

#[test]
fn async_fn_error() {
    assert_eq!(
        block_on(async_sum(&[1, u32::MAX, 2])),
        Err("too big".to_string())
    );
}

/// Out-of-bounds indexed writes panic like the sequential loop.
#[test]
#[should_panic]
fn indexed_write_out_of_bounds_panics() {
    let src = vec![1; 10];
    let mut out = vec![0; 10];
    #[parallel(cpu)]
    fn write_past_end(src: &[i64], out: &mut [i64]) {
        for i in 0..src.len() + 1 {
            out[i] = src[i % src.len()];
        }
    }
    write_past_end(&src, &mut out);
}

/// Empty inputs of every kind run no iteration and keep the initial values.
#[parallel]
fn count_all(
    v: &[u8],
    map: &BTreeMap<u8, u8>,
    set: &std::collections::HashSet<u8>,
    n: usize,
) -> usize {
    let mut count = 0;
    #[parallel]
    for _x in v {
        count += 1;
    }
    #[parallel]
    for (_k, _v) in map {
        count += 1;
    }
    #[parallel]
    for _x in set {
        count += 1;
    }
    #[parallel]
    for _x in (0..n).filter(|x| x % 2 == 0) {
        count += 1;
    }
    count
}

#[test]
fn empty_inputs_of_every_kind() {
    let set = std::collections::HashSet::new();
    assert_eq!(count_all(&[], &BTreeMap::new(), &set, 0), 0);
    let set = std::collections::HashSet::from([1, 2]);
    assert_eq!(
        count_all(&[1], &BTreeMap::from([(1, 1)]), &set, 3),
        1 + 1 + 2 + 2
    );
}

fn make(n: u32) -> Vec<u32> {
    (0..n).collect()
}

/// Temporaries in the input live as long as the loop, as in a `for` loop.
#[parallel(cpu, chunk = 2)]
fn temporaries(n: u32) -> u32 {
    let mut total = 0;
    for x in &make(n) {
        total += x;
    }
    for x in make(n).iter() {
        total += x;
    }
    total
}

#[test]
fn input_temporaries_live_through_the_loop() {
    assert_eq!(temporaries(10), 90);
}
