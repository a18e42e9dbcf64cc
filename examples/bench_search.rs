//! Early exit: a search for the first match at position p of n `u32`s, sequential
//! (`iter().position`), rayon (`par_iter().position_first`), autopar's builder
//! (`Parallel::auto().position_first`) and a `#[parallel]` loop that `return`s at its
//! hit, for p at 1% and 50% of n and not present. Calls are interleaved (each round
//! runs every strategy once, in a rotating order) after warm-up calls, and the table
//! shows medians and each autopar time ÷ the best of sequential and rayon.
//!
//! `cargo run --release --example bench_search` (add `-- --max 7` to stop at 10^7).

use std::hint::black_box;
use std::time::Instant;

use autopar::{Parallel, parallel};
use rayon::prelude::*;

fn sequential(v: &[u32], target: u32) -> Option<usize> {
    v.iter().position(|&x| x == target)
}

fn with_rayon(v: &[u32], target: u32) -> Option<usize> {
    v.par_iter().position_first(|&x| x == target)
}

fn builder(v: &[u32], target: u32) -> Option<usize> {
    Parallel::auto().position_first(v, |&x| x == target)
}

#[parallel]
fn attribute(v: &[u32], target: u32) -> Option<usize> {
    for i in 0..v.len() {
        if v[i] == target {
            return Some(i);
        }
    }
    None
}

type Search = fn(&[u32], u32) -> Option<usize>;
const STRATEGIES: [(&str, Search); 4] = [
    ("sequential", sequential),
    ("rayon", with_rayon),
    ("autopar", builder),
    ("#[parallel]", attribute),
];

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn show(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let max_exp: u32 = args
        .iter()
        .position(|a| a == "--max")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    println!(
        "{} CPU threads (rayon); medians of interleaved calls",
        rayon::current_num_threads()
    );
    println!(
        "| n | hit at | sequential | rayon `position_first` | autopar `position_first` | `#[parallel]` loop | autopar ÷ best | `#[parallel]` ÷ best |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for exp in 6..=max_exp {
        let n = 10usize.pow(exp);
        let v: Vec<u32> = (0..n as u32).collect();
        let rounds = match exp {
            6 => 301,
            7 => 61,
            _ => 11,
        };
        for (what, target) in [
            ("1%", (n / 100) as u32),
            ("50%", (n / 2) as u32),
            ("absent", u32::MAX),
        ] {
            let want = sequential(&v, target);
            for (name, search) in STRATEGIES {
                // Warm-up: autopar profiles and decides on its first calls.
                for _ in 0..5 {
                    assert_eq!(search(&v, target), want, "{name}");
                }
            }
            let mut samples = vec![Vec::new(); STRATEGIES.len()];
            for round in 0..rounds {
                for k in 0..STRATEGIES.len() {
                    let k = (k + round) % STRATEGIES.len();
                    let (name, search) = STRATEGIES[k];
                    let start = Instant::now();
                    let found = search(black_box(&v), black_box(target));
                    samples[k].push(start.elapsed().as_nanos() as f64);
                    assert_eq!(found, want, "{name}");
                }
            }
            let m: Vec<f64> = samples.into_iter().map(median).collect();
            let best = m[0].min(m[1]);
            println!(
                "| 10^{exp} | {what} | {} | {} | {} | {} | {:.2}× | {:.2}× |",
                show(m[0]),
                show(m[1]),
                show(m[2]),
                show(m[3]),
                m[2] / best,
                m[3] / best,
            );
        }
    }
}
