//! Histogram reductions: `#[parallel]`'s entry and element reductions against the
//! plain loop and rayon's hand-written `fold`/`reduce`, side by side in one run.
//!
//! ```sh
//! cargo run --release --example bench_reductions            # all cores
//! RAYON_NUM_THREADS=2 cargo run --release --example bench_reductions
//! ```
//!
//! Each cell is the median of `RUNS` calls, the strategies interleaved call by call
//! so that a noisy moment hits them all alike. autopar's loops are warm (their site
//! has decided) before timing starts.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use autopar::parallel;
use rayon::prelude::*;

const RUNS: usize = 31;

/// A cheap, well-spread hash of the item: the work per item is a few ns, as in a
/// real histogram, so the reduction's own cost is what is measured.
#[inline]
fn mix(x: u32) -> u32 {
    let x = x.wrapping_mul(0x9E37_79B9);
    x ^ (x >> 15)
}

fn entry_seq(v: &[u32], keys: u32) -> HashMap<u32, u64> {
    let mut counts = HashMap::new();
    for &x in v {
        *counts.entry(mix(x) % keys).or_insert(0) += 1;
    }
    counts
}

#[parallel(cpu)]
fn entry_autopar(v: &[u32], keys: u32) -> HashMap<u32, u64> {
    let mut counts = HashMap::new();
    for &x in v {
        *counts.entry(mix(x) % keys).or_insert(0) += 1;
    }
    counts
}

/// The same loop with one task per `n / 8` items: per-task maps are few, as rayon's.
#[parallel(cpu, chunk = v.len() / 8 + 1)]
fn entry_autopar_big_chunks(v: &[u32], keys: u32) -> HashMap<u32, u64> {
    let mut counts = HashMap::new();
    for &x in v {
        *counts.entry(mix(x) % keys).or_insert(0) += 1;
    }
    counts
}

fn entry_rayon(v: &[u32], keys: u32) -> HashMap<u32, u64> {
    v.par_iter()
        .fold(HashMap::new, |mut m: HashMap<u32, u64>, &x| {
            *m.entry(mix(x) % keys).or_insert(0) += 1;
            m
        })
        .reduce(HashMap::new, |mut a, b| {
            let (mut a, b) = if a.len() < b.len() {
                (b, a)
            } else {
                (std::mem::take(&mut a), b)
            };
            for (k, n) in b {
                *a.entry(k).or_insert(0) += n;
            }
            a
        })
}

fn index_seq(v: &[u32], buckets: usize) -> Vec<u64> {
    let mut hist = vec![0u64; buckets];
    for &x in v {
        hist[mix(x) as usize % buckets] += 1;
    }
    hist
}

#[parallel(cpu)]
fn index_autopar(v: &[u32], buckets: usize) -> Vec<u64> {
    let mut hist = vec![0u64; buckets];
    for &x in v {
        hist[mix(x) as usize % buckets] += 1;
    }
    hist
}

/// The same loop with one task per `n / 8` items.
#[parallel(cpu, chunk = v.len() / 8 + 1)]
fn index_autopar_big_chunks(v: &[u32], buckets: usize) -> Vec<u64> {
    let mut hist = vec![0u64; buckets];
    for &x in v {
        hist[mix(x) as usize % buckets] += 1;
    }
    hist
}

fn index_rayon(v: &[u32], buckets: usize) -> Vec<u64> {
    v.par_iter()
        .fold(
            || vec![0u64; buckets],
            |mut h, &x| {
                h[mix(x) as usize % buckets] += 1;
                h
            },
        )
        .reduce(
            || vec![0u64; buckets],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        )
}

/// Median ns of each strategy, called in turn `RUNS` times.
fn medians<R: PartialEq + std::fmt::Debug>(strategies: &[&dyn Fn() -> R]) -> Vec<f64> {
    let expected = strategies[0]();
    for s in strategies {
        assert_eq!(s(), expected, "every strategy gives the sequential result");
    }
    let mut times = vec![Vec::with_capacity(RUNS); strategies.len()];
    for _ in 0..RUNS {
        for (s, t) in strategies.iter().zip(&mut times) {
            let start = Instant::now();
            black_box(s());
            t.push(start.elapsed().as_nanos() as f64);
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect()
}

fn ms(ns: f64) -> String {
    format!("{:.2} ms", ns / 1e6)
}

fn main() {
    let n = 4_000_000u32;
    let v: Vec<u32> = (0..n).collect();
    println!(
        "{} threads (rayon), {n} items, median of {RUNS} calls each, interleaved",
        rayon::current_num_threads()
    );
    println!();
    println!(
        "| workload | sequential | rayon fold/reduce | autopar `#[parallel(cpu)]` | autopar ÷ rayon |"
    );
    println!("|---|---|---|---|---|---|---|");
    for keys in [16u32, 1_000, 100_000] {
        let m = medians(&[
            &|| entry_seq(&v, keys),
            &|| entry_rayon(&v, keys),
            &|| entry_autopar(&v, keys),
            &|| entry_autopar_big_chunks(&v, keys),
        ]);
        println!(
            "| `*counts.entry(k).or_insert(0) += 1`, {keys} keys | {} | {} | {} | {:.2} | {} | {:.2} |",
            ms(m[0]),
            ms(m[1]),
            ms(m[2]),
            m[2] / m[1],
            ms(m[3]),
            m[3] / m[1]
        );
    }
    for buckets in [256usize, 65_536] {
        let m = medians(&[
            &|| index_seq(&v, buckets),
            &|| index_rayon(&v, buckets),
            &|| index_autopar(&v, buckets),
            &|| index_autopar_big_chunks(&v, buckets),
        ]);
        println!(
            "| `hist[bucket(x)] += 1`, {buckets} buckets | {} | {} | {} | {:.2} | {} | {:.2} |",
            ms(m[0]),
            ms(m[1]),
            ms(m[2]),
            m[2] / m[1],
            ms(m[3]),
            m[3] / m[1]
        );
    }
    println!();
    println!("{}", autopar::report());
}
