//! Real loops: iterator chains under `#[parallel]`, side by side with the same loop
//! written over an index range, the plain loop, rayon and tuned rayon; and loops over
//! iterators of unknown length (`split`, `lines`, `filter`, `read_dir`) under
//! `#[parallel(seq)]` and `#[parallel]`, next to the plain loop.
//!
//! Every variant of a case runs once per repetition, in the same order, so machine
//! noise hits them alike; the table shows medians and ratios of medians.
//!
//! `cargo run --release --example bench_chains [-- --n 4000000 --reps 31]`

use std::hint::black_box;
use std::time::Instant;

use autopar::parallel;
use rayon::prelude::*;

/// A named variant of a case, run once per repetition.
type Variant<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// One function per mode for a loop body: `plain` (no attribute), `auto`
/// (`#[parallel]`) and `seq` (`#[parallel(seq)]`).
macro_rules! variants {
    ($name:ident, ($($p:ident: $t:ty),*) -> $r:ty, $body:block) => {
        #[allow(dead_code, clippy::needless_range_loop)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            pub fn plain($($p: $t),*) -> $r $body
            #[parallel]
            pub fn auto($($p: $t),*) -> $r $body
            #[parallel(seq)]
            pub fn seq($($p: $t),*) -> $r $body
        }
    };
}

variants!(enum_min, (v: &[u32]) -> (u32, usize), {
    let mut best = (u32::MAX, usize::MAX);
    for (i, &x) in v.iter().enumerate() {
        best = best.min((x, i));
    }
    best
});
variants!(enum_min_r, (v: &[u32]) -> (u32, usize), {
    let mut best = (u32::MAX, usize::MAX);
    for i in 0..v.len() {
        best = best.min((v[i], i));
    }
    best
});
variants!(enum_push, (v: &[u32]) -> Vec<u32>, {
    let mut out = Vec::new();
    for (i, &x) in v.iter().enumerate() {
        out.push(x ^ i as u32);
    }
    out
});
variants!(enum_push_r, (v: &[u32]) -> Vec<u32>, {
    let mut out = Vec::new();
    for i in 0..v.len() {
        out.push(v[i] ^ i as u32);
    }
    out
});
variants!(zip_dot, (v: &[u32], w: &[u32]) -> u64, {
    let mut s = 0u64;
    for (a, b) in v.iter().zip(w) {
        s += (*a as u64) * (*b as u64);
    }
    s
});
variants!(zip_dot_r, (v: &[u32], w: &[u32]) -> u64, {
    let mut s = 0u64;
    for i in 0..v.len().min(w.len()) {
        s += (v[i] as u64) * (w[i] as u64);
    }
    s
});
variants!(rev_step, (v: &[u32]) -> u64, {
    let mut s = 0u64;
    for x in v.iter().rev().step_by(3).copied() {
        s += (x ^ (x >> 3)) as u64;
    }
    s
});
variants!(rev_step_r, (v: &[u32]) -> u64, {
    let mut s = 0u64;
    for i in (0..v.len()).rev().step_by(3) {
        let x = v[i];
        s += (x ^ (x >> 3)) as u64;
    }
    s
});
variants!(skip_take_map, (v: &[u32]) -> u64, {
    let mut s = 0u64;
    for x in v.iter().skip(7).take(v.len() - 14).map(|x| x.rotate_left(5)) {
        s += x as u64;
    }
    s
});
variants!(skip_take_map_r, (v: &[u32]) -> u64, {
    let mut s = 0u64;
    for i in 7..v.len() - 7 {
        s += v[i].rotate_left(5) as u64;
    }
    s
});
variants!(chunks, (v: &[u32]) -> Vec<u64>, {
    let mut out = Vec::new();
    for c in v.chunks(64) {
        out.push(c.iter().map(|&x| x as u64).sum::<u64>());
    }
    out
});
variants!(chunks_r, (v: &[u32]) -> Vec<u64>, {
    let mut out = Vec::new();
    for k in 0..v.len().div_ceil(64) {
        let c = &v[k * 64..((k + 1) * 64).min(v.len())];
        out.push(c.iter().map(|&x| x as u64).sum::<u64>());
    }
    out
});
variants!(windows, (v: &[u32]) -> u32, {
    let mut m = 0u32;
    for w in v.windows(3) {
        m = m.max(w[0] + w[1] + w[2]);
    }
    m
});
variants!(windows_r, (v: &[u32]) -> u32, {
    let mut m = 0u32;
    for i in 0..v.len().saturating_sub(2) {
        m = m.max(v[i] + v[i + 1] + v[i + 2]);
    }
    m
});
variants!(iter_mut, (v: &mut [u32]) -> (), {
    for x in v.iter_mut() {
        *x = x.wrapping_mul(3) ^ 1;
    }
});
variants!(iter_mut_r, (v: &mut [u32]) -> (), {
    for i in 0..v.len() {
        v[i] = v[i].wrapping_mul(3) ^ 1;
    }
});
variants!(chunks_mut, (v: &mut [u32]) -> (), {
    for c in v.chunks_mut(64) {
        for x in c {
            *x = x.wrapping_mul(3) ^ 1;
        }
    }
});
variants!(split_count, (s: &str) -> usize, {
    let mut n = 0;
    for w in s.split(' ') {
        n += w.len() & 1;
    }
    n
});
variants!(lines_count, (s: &str) -> usize, {
    let mut n = 0;
    for l in s.lines() {
        n += l.len();
    }
    n
});
variants!(filter_count, (v: &[u32]) -> u64, {
    let mut n = 0u64;
    for x in v.iter().filter(|x| **x % 3 == 0) {
        n += *x as u64;
    }
    n
});
variants!(read_dir_count, (d: &std::path::Path) -> u64, {
    let mut n = 0u64;
    for e in std::fs::read_dir(d).unwrap() {
        n += e.unwrap().file_name().len() as u64;
    }
    n
});

/// Medians (ns) of `reps` interleaved repetitions of every variant.
fn measure(reps: usize, variants: &mut [Variant<'_>]) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(reps); variants.len()];
    // Warm-up: autopar's sites decide, caches and pools are warm.
    for _ in 0..5 {
        for (_, run) in variants.iter_mut() {
            run();
        }
    }
    for _ in 0..reps {
        for (k, (_, run)) in variants.iter_mut().enumerate() {
            let start = Instant::now();
            run();
            samples[k].push(start.elapsed().as_nanos() as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

fn fmt(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.0} µs", ns / 1e3)
    }
}

/// Rayon's default and the best `with_min_len` of a few, per case.
fn tuned<F: Fn(usize)>(f: &F) -> [Variant<'_>; 4] {
    [
        ("rayon", Box::new(move || f(1))),
        ("rayon 1k", Box::new(move || f(1 << 10))),
        ("rayon 16k", Box::new(move || f(1 << 14))),
        ("rayon 128k", Box::new(move || f(1 << 17))),
    ]
}

struct Row {
    case: &'static str,
    medians: Vec<(&'static str, f64)>,
}

impl Row {
    fn get(&self, name: &str) -> f64 {
        self.medians
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(f64::NAN, |(_, t)| *t)
    }
}

macro_rules! indexed_case {
    ($rows:ident, $reps:ident, $label:expr, $chain:ident, $range:ident, ($($arg:expr),*), $rayon:expr) => {{
        let rayon_fn = $rayon;
        let mut variants: Vec<Variant<'_>> = vec![
            ("plain", Box::new(|| { black_box($chain::plain($($arg),*)); })),
            ("range seq", Box::new(|| { black_box($range::seq($($arg),*)); })),
            ("chain seq", Box::new(|| { black_box($chain::seq($($arg),*)); })),
            ("range auto", Box::new(|| { black_box($range::auto($($arg),*)); })),
            ("chain auto", Box::new(|| { black_box($chain::auto($($arg),*)); })),
        ];
        variants.extend(tuned(&rayon_fn));
        let medians = measure($reps, &mut variants);
        $rows.push(Row {
            case: $label,
            medians: variants.iter().map(|(n, _)| *n).zip(medians).collect(),
        });
    }};
}

fn main() {
    let mut n = 4_000_000usize;
    let mut reps = 31usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--n" => n = args.next().and_then(|v| v.parse().ok()).expect("--n N"),
            "--reps" => reps = args.next().and_then(|v| v.parse().ok()).expect("--reps N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let v: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) % 1000)
        .collect();
    let w: Vec<u32> = v.iter().map(|x| x ^ 0x2a).collect();
    let (v, w) = (&v[..], &w[..]);
    let mut rows = Vec::new();

    indexed_case!(
        rows,
        reps,
        "enumerate, min index",
        enum_min,
        enum_min_r,
        (v),
        |m: usize| {
            black_box(
                v.par_iter()
                    .enumerate()
                    .with_min_len(m)
                    .map(|(i, &x)| (x, i))
                    .min(),
            );
        }
    );
    indexed_case!(
        rows,
        reps,
        "enumerate, push",
        enum_push,
        enum_push_r,
        (v),
        |m: usize| {
            black_box(
                v.par_iter()
                    .enumerate()
                    .with_min_len(m)
                    .map(|(i, &x)| x ^ i as u32)
                    .collect::<Vec<_>>(),
            );
        }
    );
    indexed_case!(
        rows,
        reps,
        "zip, dot product",
        zip_dot,
        zip_dot_r,
        (v, w),
        |m: usize| {
            black_box(
                v.par_iter()
                    .zip(w)
                    .with_min_len(m)
                    .map(|(a, b)| *a as u64 * *b as u64)
                    .sum::<u64>(),
            );
        }
    );
    indexed_case!(
        rows,
        reps,
        "rev.step_by(3).copied",
        rev_step,
        rev_step_r,
        (v),
        |m: usize| {
            black_box(
                v.par_iter()
                    .rev()
                    .step_by(3)
                    .copied()
                    .with_min_len(m)
                    .map(|x| (x ^ (x >> 3)) as u64)
                    .sum::<u64>(),
            );
        }
    );
    indexed_case!(
        rows,
        reps,
        "skip.take.map",
        skip_take_map,
        skip_take_map_r,
        (v),
        |m: usize| {
            black_box(
                v.par_iter()
                    .skip(7)
                    .take(v.len() - 14)
                    .with_min_len(m)
                    .map(|x| x.rotate_left(5) as u64)
                    .sum::<u64>(),
            );
        }
    );
    indexed_case!(
        rows,
        reps,
        "chunks(64), push",
        chunks,
        chunks_r,
        (v),
        |m: usize| {
            black_box(
                v.par_chunks(64)
                    .with_min_len(m / 64 + 1)
                    .map(|c| c.iter().map(|&x| x as u64).sum::<u64>())
                    .collect::<Vec<_>>(),
            );
        }
    );
    indexed_case!(
        rows,
        reps,
        "windows(3), max",
        windows,
        windows_r,
        (v),
        |m: usize| {
            black_box(
                v.par_windows(3)
                    .with_min_len(m)
                    .map(|w| w[0] + w[1] + w[2])
                    .max(),
            );
        }
    );
    {
        let mut buf = v.to_vec();
        let buf = std::cell::RefCell::new(&mut buf[..]);
        let rayon_fn = |m: usize| {
            buf.borrow_mut()
                .par_iter_mut()
                .with_min_len(m)
                .for_each(|x| *x = x.wrapping_mul(3) ^ 1);
        };
        let mut variants: Vec<Variant<'_>> = vec![
            ("plain", Box::new(|| iter_mut::plain(&mut buf.borrow_mut()))),
            (
                "range seq",
                Box::new(|| iter_mut_r::seq(&mut buf.borrow_mut())),
            ),
            (
                "chain seq",
                Box::new(|| iter_mut::seq(&mut buf.borrow_mut())),
            ),
            (
                "range auto",
                Box::new(|| iter_mut_r::auto(&mut buf.borrow_mut())),
            ),
            (
                "chain auto",
                Box::new(|| iter_mut::auto(&mut buf.borrow_mut())),
            ),
            (
                "chunks_mut seq",
                Box::new(|| chunks_mut::seq(&mut buf.borrow_mut())),
            ),
            (
                "chunks_mut auto",
                Box::new(|| chunks_mut::auto(&mut buf.borrow_mut())),
            ),
        ];
        variants.extend(tuned(&rayon_fn));
        let medians = measure(reps, &mut variants);
        rows.push(Row {
            case: "iter_mut / chunks_mut(64)",
            medians: variants.iter().map(|(n, _)| *n).zip(medians).collect(),
        });
    }

    println!("Indexed chains, {n} u32 items, medians of {reps} interleaved repetitions");
    println!(
        "(range = the same loop written over an index range; tuned = best rayon with_min_len)\n"
    );
    println!(
        "| loop | plain | range seq | chain seq | chain ÷ range, seq | range auto | chain auto | chain ÷ range, auto | rayon | tuned rayon | auto ÷ best |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let tuned = ["rayon 1k", "rayon 16k", "rayon 128k"]
            .iter()
            .map(|n| row.get(n))
            .fold(f64::INFINITY, f64::min);
        let best = row.get("plain").min(row.get("rayon")).min(tuned);
        println!(
            "| {} | {} | {} | {} | {:.2} | {} | {} | {:.2} | {} | {} | {:.2} |",
            row.case,
            fmt(row.get("plain")),
            fmt(row.get("range seq")),
            fmt(row.get("chain seq")),
            row.get("chain seq") / row.get("range seq"),
            fmt(row.get("range auto")),
            fmt(row.get("chain auto")),
            row.get("chain auto") / row.get("range auto"),
            fmt(row.get("rayon")),
            fmt(tuned),
            row.get("chain auto") / best,
        );
        if row.get("chunks_mut seq").is_finite() {
            println!(
                "| chunks_mut(64) | | | {} | {:.2} | | {} | {:.2} | | | {:.2} |",
                fmt(row.get("chunks_mut seq")),
                row.get("chunks_mut seq") / row.get("range seq"),
                fmt(row.get("chunks_mut auto")),
                row.get("chunks_mut auto") / row.get("range auto"),
                row.get("chunks_mut auto") / best,
            );
        }
    }

    // Unknown length: the sequential plan must be the plain loop.
    let text: String = (0..n / 4)
        .map(|i| if i % 7 == 6 { "word\n" } else { "word " })
        .collect::<String>();
    let text = &text[..text.len().min(1 << 20)];
    let dir = std::env::temp_dir().join(format!("autopar-bench-chains-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..200 {
        std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
    }
    let mut unknown: Vec<(&str, Vec<f64>)> = Vec::new();
    let mut variants: Vec<Variant<'_>> = vec![
        (
            "split plain",
            Box::new(|| {
                black_box(split_count::plain(text));
            }),
        ),
        (
            "split seq",
            Box::new(|| {
                black_box(split_count::seq(text));
            }),
        ),
        (
            "split auto",
            Box::new(|| {
                black_box(split_count::auto(text));
            }),
        ),
        (
            "lines plain",
            Box::new(|| {
                black_box(lines_count::plain(text));
            }),
        ),
        (
            "lines seq",
            Box::new(|| {
                black_box(lines_count::seq(text));
            }),
        ),
        (
            "lines auto",
            Box::new(|| {
                black_box(lines_count::auto(text));
            }),
        ),
        (
            "filter plain",
            Box::new(|| {
                black_box(filter_count::plain(v));
            }),
        ),
        (
            "filter seq",
            Box::new(|| {
                black_box(filter_count::seq(v));
            }),
        ),
        (
            "filter auto",
            Box::new(|| {
                black_box(filter_count::auto(v));
            }),
        ),
        (
            "read_dir plain",
            Box::new(|| {
                black_box(read_dir_count::plain(&dir));
            }),
        ),
        (
            "read_dir seq",
            Box::new(|| {
                black_box(read_dir_count::seq(&dir));
            }),
        ),
        (
            "read_dir auto",
            Box::new(|| {
                black_box(read_dir_count::auto(&dir));
            }),
        ),
    ];
    let medians = measure(reps, &mut variants);
    for (k, chunk) in medians.chunks(3).enumerate() {
        let name = [
            "split(' '), 1 MiB",
            "lines(), 1 MiB",
            "filter",
            "read_dir, 200 files",
        ][k];
        unknown.push((name, chunk.to_vec()));
    }
    drop(variants);
    let _ = std::fs::remove_dir_all(&dir);
    println!("\nUnknown length, medians of {reps} interleaved repetitions\n");
    println!("| loop | plain | `#[parallel(seq)]` | seq ÷ plain | `#[parallel]` | auto ÷ plain |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, m) in unknown {
        println!(
            "| {name} | {} | {} | {:.2} | {} | {:.2} |",
            fmt(m[0]),
            fmt(m[1]),
            m[1] / m[0],
            fmt(m[2]),
            m[2] / m[0]
        );
    }
}
