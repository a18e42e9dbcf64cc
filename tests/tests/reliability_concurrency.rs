//! Many threads at one site: random forced plans, varying sizes, drifting costs that
//! make the site re-tune, and first calls racing to profile. Results always equal the
//! sequential ones; there is one entry per site and body type; and no plan leaves state
//! behind that changes another plan's results.
//!
//! `runtime_failures.rs` runs 8 threads × 200 `auto` calls of one cheap body; this file
//! mixes plans, sizes, costs and re-tuning.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, Once};
use std::time::Duration;

use autopar::{Mode, Parallel};
use autopar_tests::spin_for;
use proptest::prelude::*;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An order-sensitive, associative summary: a polynomial hash and a length. Combining
/// in the wrong order gives a different hash.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Poly {
    hash: u64,
    len: u64,
}

const BASE: u64 = 0x100_0000_01B3;

impl Poly {
    const EMPTY: Poly = Poly { hash: 0, len: 0 };
    fn push(self, x: u64) -> Poly {
        Poly {
            hash: self.hash.wrapping_mul(BASE).wrapping_add(x),
            len: self.len + 1,
        }
    }
    fn then(self, later: Poly) -> Poly {
        let mut shift = 1u64;
        let (mut base, mut exp) = (BASE, later.len);
        while exp > 0 {
            if exp & 1 == 1 {
                shift = shift.wrapping_mul(base);
            }
            base = base.wrapping_mul(base);
            exp >>= 1;
        }
        Poly {
            hash: self.hash.wrapping_mul(shift).wrapping_add(later.hash),
            len: self.len + later.len,
        }
    }
}

/// A plan picked at random: mostly `auto`, else forced with random options.
fn random_plan(rng: &mut Rng) -> (Mode, Option<usize>, Option<usize>) {
    match rng.below(8) {
        0..=3 => (Mode::Auto, None, None),
        4 => (Mode::Seq, None, None),
        5 => (
            Mode::Cpu,
            [None, Some(3)][rng.below(2) as usize],
            [None, Some(1), Some(64)][rng.below(3) as usize],
        ),
        _ => (
            Mode::Io,
            Some(1 + rng.below(8) as usize),
            [None, Some(1), Some(16)][rng.below(3) as usize],
        ),
    }
}

/// The one call site shared by every thread and plan of the stress test.
fn builder(
    label: &'static str,
    (mode, workers, chunk): (Mode, Option<usize>, Option<usize>),
) -> Parallel {
    let mut p = Parallel::new(mode).label(label);
    if let Some(w) = workers {
        p = p.workers(w);
    }
    if let Some(c) = chunk {
        p = p.chunk(c);
    }
    p
}

/// The item function: cheap arithmetic plus `cost_ns` of spinning.
fn work(x: u64, cost_ns: u64) -> u64 {
    if cost_ns > 0 {
        spin_for(Duration::from_nanos(cost_ns));
    }
    x.wrapping_mul(0x2545_F491_4F6C_DD1D).rotate_left(17)
}

#[test]
fn eight_threads_random_plans_and_retuning_equal_sequential() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 1200;
    // Per-item cost of the `auto` calls, drifting by phase (every 150 calls of a
    // thread): nearly free, then 2 µs, so warm timed calls see a > 2× change.
    static COST_NS: AtomicU64 = AtomicU64::new(0);
    let barrier = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let barrier = &barrier;
            s.spawn(move || {
                let mut rng = Rng(t + 1);
                barrier.wait();
                for k in 0..CALLS {
                    if t == 0 {
                        COST_NS.store(if (k / 150) % 2 == 1 { 2000 } else { 0 }, Relaxed);
                    }
                    let plan = random_plan(&mut rng);
                    // Sizes over many classes, mostly small.
                    let n = match rng.below(10) {
                        0 => rng.below(4000),
                        1..=3 => rng.below(64),
                        _ => rng.below(600),
                    };
                    let start = rng.below(1 << 40);
                    let cost = if plan.0 == Mode::Auto {
                        COST_NS.load(Relaxed)
                    } else {
                        0
                    };
                    let p = builder("stress", plan);
                    match rng.below(3) {
                        0 => {
                            let out = p.map(start..start + n, |x| work(x, cost));
                            assert!(
                                out.iter()
                                    .copied()
                                    .eq((start..start + n).map(|x| work(x, 0))),
                                "map {plan:?} n={n}"
                            );
                        }
                        1 => {
                            let got = p.reduce(
                                start..start + n,
                                || Poly::EMPTY,
                                |acc, x| acc.push(work(x, cost)),
                                Poly::then,
                            );
                            let expected =
                                (start..start + n).fold(Poly::EMPTY, |a, x| a.push(work(x, 0)));
                            assert_eq!(got, expected, "reduce {plan:?} n={n}");
                        }
                        _ => {
                            // Unknown length: pulled in batches.
                            let got = p.reduce(
                                autopar::iter((start..start + n).filter(|_| true)),
                                || Poly::EMPTY,
                                |acc, x| acc.push(work(x, cost)),
                                Poly::then,
                            );
                            let expected =
                                (start..start + n).fold(Poly::EMPTY, |a, x| a.push(work(x, 0)));
                            assert_eq!(got, expected, "iter reduce {plan:?} n={n}");
                        }
                    }
                }
            });
        }
    });
    let retunes: u32 = autopar::report()
        .sites
        .iter()
        .filter(|s| s.label.as_deref() == Some("stress"))
        .map(|s| s.retunes)
        .sum();
    assert!(
        retunes >= 1,
        "the drifting cost never made the site re-tune"
    );
}

const LABELS: [&str; 4] = ["race 0", "race 1", "race 2", "race 3"];

/// The racing site: each `K` is a new loop-body type, so a new cache entry. Items of
/// `K` µs.
fn race_call<const K: usize>(n: u64) -> Poly {
    Parallel::auto().label(LABELS[K]).reduce(
        0..n,
        || Poly::EMPTY,
        |acc, x| acc.push(work(x, 1000 * K as u64)),
        Poly::then,
    )
}

/// First calls racing at a fresh site: 8 threads create the entry, profile and decide
/// at the same moment, in several size classes.
fn race<const K: usize>() {
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let barrier = &barrier;
            s.spawn(move || {
                let n = if t % 2 == 0 { 3000 } else { 100 + 400 * t };
                barrier.wait();
                let got = race_call::<K>(n);
                let expected = (0..n).fold(Poly::EMPTY, |a, x| a.push(work(x, 0)));
                assert_eq!(got, expected, "thread {t}");
            });
        }
    });
    let entries = || -> Vec<autopar::SiteReport> {
        autopar::report()
            .sites
            .into_iter()
            .filter(|s| s.label.as_deref() == Some(LABELS[K]))
            .collect()
    };
    assert_eq!(
        entries().len(),
        1,
        "racing first calls made several entries: {:?}",
        entries()
    );
    // Racing profiles may each re-learn and clear the others' decisions (by design: it
    // only costs speed); calls made alone then decide, from what the site learned. The
    // uncontended calls may also read as drift against the contended ones and re-tune
    // (rate-limited: each re-tune waits for twice as many timed calls), so the site must
    // settle within a few rounds, not necessarily the first.
    let settled = |entry: &[autopar::SiteReport]| {
        entry.len() == 1
            && entry[0].profile.is_some()
            && entry[0].classes.iter().all(|c| c.plan.is_some())
    };
    for _round in 0..6 {
        for n in [500, 1300, 3000] {
            let got = race_call::<K>(n);
            assert_eq!(got, (0..n).fold(Poly::EMPTY, |a, x| a.push(work(x, 0))));
        }
        if settled(&entries()) {
            return;
        }
    }
    panic!("the site never settled: {:?}", entries());
}

#[test]
fn first_calls_racing_to_profile_a_fresh_site() {
    race::<0>();
    race::<1>();
    race::<2>();
    race::<3>();
}

/// All plans, `auto` included, at one shared site.
fn shared_site_plans() -> Vec<(Mode, Option<usize>, Option<usize>)> {
    vec![
        (Mode::Auto, None, None),
        (Mode::Seq, None, None),
        (Mode::Cpu, None, None),
        (Mode::Cpu, None, Some(1)),
        (Mode::Cpu, Some(3), Some(5)),
        (Mode::Io, Some(1), None),
        (Mode::Io, Some(4), Some(3)),
        (Mode::Io, None, None),
    ]
}

static SHARED_COST_NS: AtomicU64 = AtomicU64::new(0);

/// The shared site: every plan runs the same body here, so forced plans and `auto`
/// share the cache entry.
fn shared(plan: (Mode, Option<usize>, Option<usize>), items: &[u64]) -> (Vec<u64>, Poly) {
    let p = builder("shared", plan);
    let cost = SHARED_COST_NS.load(Relaxed);
    let mapped = p.map(items, |&x| work(x, cost));
    let reduced = p.reduce(
        items,
        || Poly::EMPTY,
        |a, &x| a.push(work(x, cost)),
        Poly::then,
    );
    (mapped, reduced)
}

/// Makes the shared site re-tune once: a cheap phase, then a costly one until the site
/// profiles again, then cheap again.
fn retune_shared_site() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let items: Vec<u64> = (0..200).collect();
        for _ in 0..40 {
            shared((Mode::Auto, None, None), &items);
        }
        SHARED_COST_NS.store(20_000, Relaxed);
        let retunes = || -> u32 {
            autopar::report()
                .sites
                .iter()
                .filter(|s| s.label.as_deref() == Some("shared"))
                .map(|s| s.retunes)
                .sum()
        };
        let mut calls = 0;
        while retunes() == 0 {
            shared((Mode::Auto, None, None), &items);
            calls += 1;
            assert!(calls < 200, "no re-tune after {calls} calls");
        }
        SHARED_COST_NS.store(0, Relaxed);
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same inputs under every forced plan, and under `auto` after re-tuning, at one
    /// site, in random order: equal results.
    #[test]
    fn every_plan_at_one_site_gives_equal_results(
        items in proptest::collection::vec(any::<u64>(), 0..3000),
        order in Just(shared_site_plans()).prop_shuffle(),
    ) {
        retune_shared_site();
        let expected = (
            items.iter().map(|&x| work(x, 0)).collect::<Vec<_>>(),
            items.iter().fold(Poly::EMPTY, |a, &x| a.push(work(x, 0))),
        );
        for plan in order {
            prop_assert_eq!(&shared(plan, &items), &expected, "{:?}", plan);
        }
    }
}
