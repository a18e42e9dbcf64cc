//! Iterator chains split by index (`autopar::chain`, and what `#[parallel]` makes of
//! `v.iter().enumerate()` and friends) give the sequential loop's items, in order, under
//! every plan; errors are the earliest failing item's; panics reach the caller.

use autopar::{Parallel, chain, parallel};
use proptest::prelude::*;

/// Every plan, with forced chunk sizes: each call builds a fresh `Parallel`.
type Plan = (&'static str, fn() -> Parallel);

fn plans() -> Vec<Plan> {
    vec![
        ("seq", Parallel::seq),
        ("auto", Parallel::auto),
        ("cpu", Parallel::cpu),
        ("cpu chunk 1", || Parallel::cpu().chunk(1)),
        ("cpu chunk 7", || Parallel::cpu().chunk(7)),
        ("io chunk 3", || Parallel::io().workers(4).chunk(3)),
        ("io chunk 64", || Parallel::io().workers(3).chunk(64)),
    ]
}

/// Runs the chain `$chain` (rebuilt per plan) through `map`, and its enumeration
/// through `try_for_each` failing from item `$fail_at` on, under every plan, against the
/// std chain `$std`'s items and the earliest error.
macro_rules! check {
    ($fail_at:expr, $std:expr, $chain:expr) => {{
        let expected: Vec<_> = $std.collect();
        for (name, plan) in plans() {
            let got: Vec<_> = plan().map($chain, |x| x);
            prop_assert_eq!(&got, &expected, "map under {}", name);
            let earliest = plan().try_for_each(($chain).enumerate(), |(i, _)| {
                if i >= $fail_at { Err(i) } else { Ok(()) }
            });
            let want = if $fail_at < expected.len() {
                Err($fail_at)
            } else {
                Ok(())
            };
            prop_assert_eq!(earliest, want, "earliest error under {}", name);
        }
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn slice_adaptors_match_std(
        v in prop::collection::vec(any::<u16>(), 0..300),
        w in prop::collection::vec(any::<u16>(), 0..300),
        step in 1usize..9,
        skip in 0usize..40,
        take in 0usize..400,
        size in 1usize..20,
        fail_at in 0usize..350,
    ) {
        check!(fail_at, v.iter().enumerate(), chain(&v).enumerate());
        check!(fail_at, v.iter().zip(&w), chain(&v).zip(&w));
        check!(fail_at, v.iter().rev(), chain(&v).rev());
        check!(fail_at, v.iter().step_by(step), chain(&v).step_by(step));
        check!(fail_at, v.iter().skip(skip).take(take), chain(&v).skip(skip).take(take));
        check!(fail_at, v.iter().copied(), chain(&v).copied());
        check!(fail_at, v.iter().cloned(), chain(&v).cloned());
        check!(fail_at, v.iter().map(|x| x / 3), chain(&v).map(|x| x / 3));
        check!(fail_at, v.chunks(size), chain(&v).chunks(size));
        check!(fail_at, v.chunks_exact(size), chain(&v).chunks_exact(size));
        check!(fail_at, v.windows(size), chain(&v).windows(size));
        // Compositions.
        check!(fail_at, v.iter().rev().step_by(step).enumerate().skip(skip), chain(&v).rev().step_by(step).enumerate().skip(skip));
        check!(fail_at, v.iter().zip(w.iter().rev()).map(|(a, b)| *a as u32 * *b as u32).enumerate().rev(), chain(&v).zip(chain(&w).rev()).map(|(a, b)| *a as u32 * *b as u32).enumerate().rev());
        check!(fail_at, v.chunks(size).step_by(step).zip(w.windows(size)).take(take), chain(&v).chunks(size).step_by(step).zip(chain(&w).windows(size)).take(take));
        let n = v.len() as u32;
        check!(fail_at, (0..n).rev().step_by(step), chain(0..n).rev().step_by(step));
        check!(fail_at, (3..=n as u16).enumerate(), chain(3..=n as u16).enumerate());
    }

    #[test]
    fn mutable_adaptors_match_std(
        v in prop::collection::vec(any::<u32>(), 0..300),
        size in 1usize..20,
        step in 1usize..5,
    ) {
        for (name, plan) in plans() {
            let mut expected = v.clone();
            for (i, c) in expected.chunks_mut(size).enumerate() {
                for x in c { *x = x.wrapping_mul(3) ^ i as u32; }
            }
            let mut got = v.clone();
            plan().for_each(chain(&mut got).chunks_mut(size).enumerate(), |(i, c)| {
                for x in c { *x = x.wrapping_mul(3) ^ i as u32; }
            });
            prop_assert_eq!(&got, &expected, "chunks_mut under {}", name);

            let mut expected = v.clone();
            for (x, i) in expected.iter_mut().rev().step_by(step).zip(0u32..1000) { *x ^= i; }
            let mut got = v.clone();
            plan().for_each(chain(got.iter_mut()).rev().step_by(step).zip(0u32..1000), |(x, i)| *x ^= i);
            prop_assert_eq!(&got, &expected, "iter_mut under {}", name);
        }
    }
}

#[test]
#[should_panic(expected = "chunk size must be non-zero")]
fn chunks_of_zero_panic_as_std_does() {
    let _ = chain(&[1, 2, 3]).chunks(0);
}

#[test]
#[should_panic(expected = "assertion failed: step != 0")]
fn step_by_zero_panics_as_std_does() {
    let _ = chain(&[1, 2, 3]).step_by(0);
}

#[test]
fn a_panicking_map_closure_reaches_the_caller() {
    let v: Vec<u32> = (0..1000).collect();
    for (name, plan) in plans() {
        let caught = std::panic::catch_unwind(|| {
            plan().for_each(
                chain(&v).map(|x| if *x == 600 { panic!("boom at 600") } else { *x }),
                |_| {},
            )
        });
        let payload = caught.expect_err(name);
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"boom at 600"),
            "{name}"
        );
    }
}

// ---- through `#[parallel]` ----

/// The loops below, written once, run under `#[parallel]`, `#[parallel(seq)]`,
/// `#[parallel(cpu, chunk = 3)]`, `#[parallel(io, workers = 4, chunk = 5)]` and as plain
/// loops.
macro_rules! modes {
    ($name:ident, ($($p:ident: $t:ty),*) -> $r:ty, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            pub fn plain($($p: $t),*) -> $r $body
            #[parallel]
            pub fn auto($($p: $t),*) -> $r $body
            #[parallel(seq)]
            pub fn seq($($p: $t),*) -> $r $body
            #[parallel(cpu, chunk = 3)]
            pub fn cpu($($p: $t),*) -> $r $body
            #[parallel(io, workers = 4, chunk = 5)]
            pub fn io($($p: $t),*) -> $r $body
            #[allow(dead_code)]
            pub fn all($($p: $t),*) -> [$r; 4] {
                [auto($($p),*), seq($($p),*), cpu($($p),*), io($($p),*)]
            }
        }
    };
}

modes!(min_index, (v: &[u16]) -> (u16, usize), {
    let mut best = (u16::MAX, usize::MAX);
    for (i, &x) in v.iter().enumerate() {
        best = best.min((x, i));
    }
    best
});

modes!(pushes, (v: &[u16], w: &[u16], step: usize, size: usize) -> Vec<u64>, {
    let mut out = Vec::new();
    for (i, (a, b)) in v.iter().zip(w.iter().rev()).enumerate().step_by(step) {
        out.push(i as u64 * *a as u64 + *b as u64);
    }
    for (k, c) in v.chunks(size).enumerate().skip(1) {
        out.push(k as u64 + c.iter().map(|&x| x as u64).sum::<u64>());
    }
    for wnd in v.windows(size).rev() {
        out.push(wnd[0] as u64);
    }
    for x in v.iter().copied().map(|x| x as u64 * 3).take(7) {
        out.push(x);
    }
    for x in (0..v.len()).rev().step_by(step) {
        out.push(x as u64);
    }
    out
});

modes!(fallible, (v: &[u16], fail_at: usize) -> Result<Vec<usize>, usize>, {
    let mut out = Vec::new();
    for (i, x) in v.iter().enumerate().rev() {
        if i == fail_at || i == fail_at / 2 {
            Err(i)?;
        }
        out.push(i + *x as usize);
    }
    Ok(out)
});

modes!(writes, (v: &mut [u32], size: usize) -> Vec<u32>, {
    for (i, c) in v.chunks_mut(size).enumerate() {
        for x in c {
            *x = x.wrapping_add(i as u32);
        }
    }
    for x in v.iter_mut() {
        *x = x.rotate_left(3);
    }
    v.to_vec()
});

modes!(streams, (text: &str) -> Vec<usize>, {
    let mut out = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        out.push(i * 1000 + word.len());
    }
    for (a, b) in text.lines().zip(text.split(',')) {
        out.push(a.len() + b.len());
    }
    out
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn parallel_loops_over_chains_match_the_plain_loop(
        v in prop::collection::vec(any::<u16>(), 0..400),
        w in prop::collection::vec(any::<u16>(), 0..400),
        step in 1usize..6,
        size in 1usize..9,
        fail_at in 0usize..500,
        text in "[a-c ,\n]{0,200}",
    ) {
        for got in min_index::all(&v) {
            prop_assert_eq!(got, min_index::plain(&v));
        }
        for got in pushes::all(&v, &w, step, size) {
            prop_assert_eq!(got, pushes::plain(&v, &w, step, size));
        }
        for got in fallible::all(&v, fail_at) {
            prop_assert_eq!(got, fallible::plain(&v, fail_at));
        }
        let expected = writes::plain(&mut v.iter().map(|&x| x as u32).collect::<Vec<_>>(), size);
        let got = [
            writes::auto(&mut v.iter().map(|&x| x as u32).collect::<Vec<_>>(), size),
            writes::seq(&mut v.iter().map(|&x| x as u32).collect::<Vec<_>>(), size),
            writes::cpu(&mut v.iter().map(|&x| x as u32).collect::<Vec<_>>(), size),
            writes::io(&mut v.iter().map(|&x| x as u32).collect::<Vec<_>>(), size),
        ];
        for got in got {
            prop_assert_eq!(&got, &expected);
        }
        for got in streams::all(&text) {
            prop_assert_eq!(got, streams::plain(&text));
        }
    }
}

/// Chains whose base autopar cannot index keep the std chain's meaning.
#[parallel]
fn not_indexed(map: &std::collections::BTreeMap<u32, u32>, o: Option<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, (k, v)) in map.iter().enumerate().skip(1) {
        out.push(i as u32 + k * v);
    }
    for x in o.map(|x| x + 1) {
        out.push(x);
    }
    out
}

#[test]
fn chains_over_other_iterables_keep_their_meaning() {
    let map: std::collections::BTreeMap<u32, u32> = (0..50).map(|k| (k, k * 2)).collect();
    let mut expected: Vec<u32> = map
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, (k, v))| i as u32 + k * v)
        .collect();
    expected.push(8);
    assert_eq!(not_indexed(&map, Some(7)), expected);
}
