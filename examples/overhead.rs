//! Measures what autopar adds to a loop: the warm per-call overhead on a tiny loop, the
//! first-call (profiling) cost, and 1000 × 1 ms sleeps under `auto` and `io` vs the
//! plain loop. Prints medians of repeated runs, side by side. Last, the first call in a
//! fresh process, profiling vs deciding from a profile saved by this run
//! (`autopar::save_profile` / `load_profile`): it re-runs itself as child processes.
//!
//! `cargo run --release --example overhead`

use std::hint::black_box;
use std::time::{Duration, Instant};

use autopar::Parallel;

fn median_ns(reps: usize, mut run: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_nanos() as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[reps / 2]
}

fn plain_sum(items: &[u64]) -> u64 {
    let mut total = 0u64;
    for &x in items {
        total = total.wrapping_add(x ^ (x >> 3));
    }
    total
}

fn auto_sum(items: &[u64]) -> u64 {
    Parallel::auto().reduce(
        items,
        || 0u64,
        |acc, &x| acc.wrapping_add(x ^ (x >> 3)),
        u64::wrapping_add,
    )
}

/// Set in the child processes: run the first calls only, print their times.
const CHILD: &str = "AUTOPAR_OVERHEAD_CHILD";
/// In a child: the profile to load before the first calls.
const LOAD: &str = "AUTOPAR_OVERHEAD_LOAD";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        return first_calls();
    }
    let items: Vec<u64> = (0..1000).collect();
    // Interleave the two so machine noise hits both alike; 10k calls per sample.
    let calls = 10_000;
    let mut plain = Vec::new();
    let mut auto = Vec::new();
    for _ in 0..15 {
        plain.push(
            median_ns(1, || {
                for _ in 0..calls {
                    black_box(plain_sum(black_box(&items)));
                }
            }) / calls as f64,
        );
        auto.push(
            median_ns(1, || {
                for _ in 0..calls {
                    black_box(auto_sum(black_box(&items)));
                }
            }) / calls as f64,
        );
    }
    plain.sort_by(f64::total_cmp);
    auto.sort_by(f64::total_cmp);
    let (p, a) = (plain[7], auto[7]);
    println!("1000 × ~1 ns loop, per call (median of 15 × {calls} calls):");
    println!("  plain loop            {p:>9.1} ns");
    println!(
        "  Parallel::auto warm   {a:>9.1} ns   ({:.3}× plain, +{:.1} ns)",
        a / p,
        a - p
    );

    // First call at a fresh site: profiling + decision.
    let cold: Vec<f64> = (0..5)
        .map(|_| {
            // Each closure type is a fresh site entry: a new body type at this site.
            let start = Instant::now();
            black_box(fresh_site_sum(&items));
            start.elapsed().as_nanos() as f64
        })
        .collect();
    println!("  first call (profiles) {:>9.1} ns", cold[0]);

    let sleeps: Vec<u32> = (0..1000).collect();
    let nap = |_: &u32| std::thread::sleep(Duration::from_millis(1));
    let io50 = median_ns(5, || Parallel::io().workers(50).for_each(&sleeps, nap));
    let mut auto_runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        auto_naps(&sleeps);
        auto_runs.push(start.elapsed().as_nanos() as f64);
    }
    let auto_cold = auto_runs[0];
    let mut warm = auto_runs[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    println!("1000 × 1 ms sleep:");
    println!(
        "  io, workers = 50      {:>9.1} ms  (ideal 20 ms)",
        io50 / 1e6
    );
    println!("  auto, first call      {:>9.1} ms", auto_cold / 1e6);
    println!(
        "  auto, warm (median)   {:>9.1} ms",
        warm[warm.len() / 2] / 1e6
    );
    saved_profile_first_calls(a);
    println!("\n{}", autopar::report());
}

fn auto_naps(sleeps: &[u32]) {
    Parallel::auto().for_each(sleeps, |_| std::thread::sleep(Duration::from_millis(1)));
}

/// The first calls of `auto_sum` and `auto_naps` in fresh processes, without and with the
/// profile this process saves; `warm_ns` is this process's warm `auto_sum` call.
fn saved_profile_first_calls(warm_ns: f64) {
    let path =
        std::env::temp_dir().join(format!("autopar-overhead-{}.profile", std::process::id()));
    autopar::save_profile(&path).expect("save the profile");
    let exe = std::env::current_exe().expect("own executable");
    let run = |load: bool| -> Vec<f64> {
        let mut cmd = std::process::Command::new(&exe);
        cmd.env(CHILD, "1");
        if load {
            cmd.env(LOAD, &path);
        }
        let out = cmd.output().expect("run a child");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect()
    };
    // Alternate the two kinds of child; 7 processes each.
    let (mut cold, mut loaded): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        cold.push(run(false));
        loaded.push(run(true));
    }
    let _ = std::fs::remove_file(&path);
    let median = |runs: &[Vec<f64>], col: usize| {
        let mut v: Vec<f64> = runs.iter().map(|r| r[col]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let profiled: f64 = loaded.iter().map(|r| r[3]).sum();
    println!("first call in a fresh process (median of 7 processes each):");
    println!("  1000 × ~1 ns, profiles      {:>9.1} ns", median(&cold, 1));
    println!(
        "  1000 × ~1 ns, saved profile {:>9.1} ns   (2nd call {:.1} ns, warm here {warm_ns:.1} ns; load_profile: {:.1} µs; profiling runs: {profiled})",
        median(&loaded, 1),
        median(&loaded, 4),
        median(&loaded, 0) / 1e3,
    );
    println!(
        "  1000 × 1 ms sleep, profiles      {:>6.1} ms",
        median(&cold, 2) / 1e6
    );
    println!(
        "  1000 × 1 ms sleep, saved profile {:>6.1} ms",
        median(&loaded, 2) / 1e6
    );
}

/// In a child process: optionally load the saved profile, then time the first call of
/// each loop. Prints `load_ns sum_ns naps_ns profiling_runs second_sum_ns`.
fn first_calls() {
    let items: Vec<u64> = (0..1000).collect();
    let sleeps: Vec<u32> = (0..1000).collect();
    // What any first call of the process pays (reading the environment, the site map,
    // rayon's pool): paid here, by another loop, so the times below are the loops' own.
    Parallel::cpu().chunk(1).for_each(0..2, |i| {
        black_box(i);
    });
    let load_ns = std::env::var_os(LOAD).map_or(0.0, |path| {
        let start = Instant::now();
        autopar::load_profile(path).expect("load the profile");
        start.elapsed().as_nanos() as f64
    });
    let start = Instant::now();
    black_box(auto_sum(black_box(&items)));
    let sum_ns = start.elapsed().as_nanos() as f64;
    let start = Instant::now();
    black_box(auto_sum(black_box(&items)));
    let second_ns = start.elapsed().as_nanos() as f64;
    let start = Instant::now();
    auto_naps(&sleeps);
    let naps_ns = start.elapsed().as_nanos() as f64;
    let profiled: u32 = autopar::report().sites.iter().map(|s| s.profiled).sum();
    println!("{load_ns} {sum_ns} {naps_ns} {profiled} {second_ns}");
}

fn fresh_site_sum(items: &[u64]) -> u64 {
    Parallel::auto().label("cold").reduce(
        items,
        || 0u64,
        |a, &x| a.wrapping_add(x),
        u64::wrapping_add,
    )
}
