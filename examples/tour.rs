//! A tour of autopar: three loops, each run twice, then the report of what was decided.
//!
//! Run with `cargo run --release --example tour` (add `AUTOPAR_LOG=1` to watch the
//! decisions being made).

use std::time::{Duration, Instant};

use autopar::parallel;

/// A few nanoseconds per item: parallelism would only slow this down.
#[parallel(auto, label = "tiny sum")]
fn tiny(items: &[u64]) -> u64 {
    let mut total = 0;
    for x in items {
        total += x * x;
    }
    total
}

/// ~20 µs of arithmetic per item: worth every core.
#[parallel(auto, label = "cpu heavy")]
fn cpu_heavy(seeds: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        let mut x = seed;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(x >> 7);
        }
        out.push(x);
    }
    out
}

/// 1 ms of waiting per item, like a network call: worth many workers.
#[parallel(auto, label = "io like")]
fn io_like(requests: &[u32]) -> Vec<u32> {
    let mut responses = Vec::new();
    for &r in requests {
        std::thread::sleep(Duration::from_millis(1));
        responses.push(r + 1);
    }
    responses
}

fn timed<R>(what: &str, run: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let result = run();
    println!(
        "{what:<28} {:>10.3} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    result
}

fn main() {
    let small: Vec<u64> = (0..1_000).collect();
    let seeds: Vec<u64> = (0..2_000).collect();
    let requests: Vec<u32> = (0..500).collect();

    for round in ["first call (profiles)", "second call (cached)"] {
        println!("-- {round}");
        let s = timed("tiny sum, 1000 items", || tiny(&small));
        let h = timed("cpu heavy, 2000 items", || cpu_heavy(&seeds));
        let r = timed("io like, 500 × 1 ms sleep", || io_like(&requests));
        assert_eq!(s, small.iter().map(|x| x * x).sum::<u64>());
        assert_eq!(h.len(), seeds.len());
        assert_eq!(r[499], 500);
    }
    println!("\n{}", autopar::report());
}
