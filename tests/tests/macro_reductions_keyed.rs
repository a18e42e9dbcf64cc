//! Entry reductions (`*map.entry(k).or_insert(v) += e`, `.or_default()`), element
//! reductions with data-dependent indices (`hist[bucket(x)] += 1`) and reduction
//! variables that the body binds again give the sequential loop's result, on random
//! inputs, under every plan. The splitting plans use small chunks so that per-task
//! maps and arrays really are combined.

use std::collections::{BTreeMap, HashMap};

use autopar::parallel;
use proptest::prelude::*;

/// Everything one loop reduces, so the variants compare in one `assert_eq!`.
#[derive(Debug, PartialEq)]
struct Out {
    counts: HashMap<i64, usize>,
    sums: BTreeMap<u8, i64>,
    left: HashMap<u8, u64>,
    scaled: BTreeMap<u8, i64>,
    bits: HashMap<u8, u32>,
    hist: [u64; 16],
    signed: Vec<i32>,
    masks: Vec<u8>,
    total: i64,
    kept: usize,
}

impl Out {
    fn new(buckets: usize) -> Out {
        Out {
            counts: HashMap::from([(0, 7)]),
            sums: BTreeMap::new(),
            left: HashMap::from([(1, 5_000_000_000)]),
            scaled: BTreeMap::new(),
            bits: HashMap::new(),
            hist: [3; 16],
            signed: vec![0; buckets],
            masks: vec![0xff; buckets],
            total: 0,
            kept: 0,
        }
    }
}

fn bucket(x: i64) -> usize {
    x.rem_euclid(16) as usize
}

/// The reference: a plain sequential loop, the same body as below.
fn sequential(v: &[i64], buckets: usize) -> Out {
    let mut o = Out::new(buckets);
    for &x in v {
        let key = x.rem_euclid(5) as u8;
        *o.counts.entry(x % 13).or_insert(0) += 1;
        *o.sums.entry(key).or_default() += x;
        *o.left.entry(key).or_insert(1_000_000_000) -= x.unsigned_abs();
        *o.scaled.entry(key % 2).or_insert(1) *= if x % 11 == 0 { -1 } else { 1 };
        *o.bits.entry(key).or_insert(0) |= 1 << (x.rem_euclid(32));
        o.hist[bucket(x)] += 1;
        o.signed[x.unsigned_abs() as usize % buckets] -= 2;
        o.masks[(x.unsigned_abs() as usize * 7) % buckets] &= !(1 << (x.rem_euclid(8)));
        o.total += x;
        if x % 4 == 0 {
            continue;
        }
        o.kept += 1;
    }
    o
}

/// The same loop under `#[parallel(<options>)]`, one fn per set of options.
macro_rules! parallel_version {
    ($name:ident, $($options:tt)*) => {
        #[parallel($($options)*)]
        fn $name(v: &[i64], buckets: usize) -> Out {
            let Out {
                mut counts,
                mut sums,
                mut left,
                mut scaled,
                mut bits,
                mut hist,
                mut signed,
                mut masks,
                mut total,
                mut kept,
            } = Out::new(buckets);
            for &x in v {
                let key = x.rem_euclid(5) as u8;
                *counts.entry(x % 13).or_insert(0) += 1;
                *sums.entry(key).or_default() += x;
                *left.entry(key).or_insert(1_000_000_000) -= x.unsigned_abs();
                *scaled.entry(key % 2).or_insert(1) *= if x % 11 == 0 { -1 } else { 1 };
                *bits.entry(key).or_insert(0) |= 1 << (x.rem_euclid(32));
                hist[bucket(x)] += 1;
                let n = signed.len();
                signed[x.unsigned_abs() as usize % n] -= 2;
                masks[(x.unsigned_abs() as usize * 7) % buckets] &= !(1 << (x.rem_euclid(8)));
                total += x;
                // The names bound again below are other variables: the
                // reductions above and below are still of the outer ones.
                let doubled: Vec<i64> = (0..2).map(|total| total * x).collect();
                if let Some(&total) = doubled.last() {
                    std::hint::black_box(total);
                }
                for kept in 0..1 {
                    std::hint::black_box(kept);
                }
                let total = x * 3;
                if total % 4 == 0 {
                    continue;
                }
                kept += 1;
                let kept = total;
                std::hint::black_box(kept);
            }
            Out {
                counts,
                sums,
                left,
                scaled,
                bits,
                hist,
                signed,
                masks,
                total,
                kept,
            }
        }
    };
}

parallel_version!(pinned_seq, seq);
parallel_version!(cpu_small_chunks, cpu, chunk = 3);
parallel_version!(io_small_chunks, io, workers = 4, chunk = 2);
parallel_version!(auto_plan, auto);

fn check(v: &[i64], buckets: usize) {
    let expected = sequential(v, buckets);
    assert_eq!(pinned_seq(v, buckets), expected, "seq");
    assert_eq!(cpu_small_chunks(v, buckets), expected, "cpu");
    assert_eq!(io_small_chunks(v, buckets), expected, "io");
    assert_eq!(auto_plan(v, buckets), expected, "auto");
}

proptest! {
    #[test]
    fn keyed_reductions_match_sequential(
        v in prop::collection::vec(-1000i64..1000, 0..300),
        buckets in 1usize..40,
    ) {
        check(&v, buckets);
    }
}

#[test]
fn large_input_matches_sequential() {
    let v: Vec<i64> = (0..200_000).map(|i| (i * 7919) % 2001 - 1000).collect();
    check(&v, 97);
}

#[test]
fn empty_input_keeps_initial_values() {
    check(&[], 3);
}
