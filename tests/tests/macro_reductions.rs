//! Every reduction form of `#[parallel]` gives the sequential loop's result,
//! on random inputs, in every mode. The modes that split the input use small
//! `chunk`s so that partials really are combined.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use autopar::parallel;
use proptest::prelude::*;

/// Ordered by `key` only: `max`/`min` must pick the same one of several
/// equal values as the sequential loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Keyed {
    key: u8,
    pos: usize,
}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// Everything one loop can reduce, so the variants compare in one `assert_eq!`.
#[derive(Debug, PartialEq)]
struct Out {
    sum: i64,
    count: usize,
    left: u64,
    product: i64,
    or: u64,
    and: u64,
    xor: u64,
    hi: i64,
    lo: i64,
    first_max: Option<Keyed>,
    last_max: Option<Keyed>,
    first_min: Option<Keyed>,
    pushed: Vec<i64>,
    extended: Vec<i64>,
    set: HashSet<i64>,
    sorted: BTreeSet<i64>,
    map: HashMap<i64, usize>,
    last_pos: BTreeMap<u8, usize>,
    any_negative: bool,
    all_small: bool,
    wrapped: std::num::Wrapping<u8>,
}

/// The reference: a plain sequential loop.
fn sequential(v: &[i64]) -> Out {
    let mut o = Out::new();
    for (pos, &x) in v.iter().enumerate() {
        body(&mut o, pos, x);
    }
    o
}

impl Out {
    fn new() -> Out {
        Out {
            sum: 0,
            count: 0,
            left: 1_000_000_000,
            product: 1,
            or: 0,
            and: u64::MAX,
            xor: 0,
            hi: i64::MIN,
            lo: i64::MAX,
            first_max: None,
            last_max: None,
            first_min: None,
            pushed: Vec::new(),
            extended: vec![-1],
            set: HashSet::new(),
            sorted: BTreeSet::new(),
            map: HashMap::new(),
            last_pos: BTreeMap::new(),
            any_negative: false,
            all_small: true,
            wrapped: std::num::Wrapping(7),
        }
    }
}

/// The sequential body, on `Out`'s fields.
fn body(o: &mut Out, pos: usize, x: i64) {
    let k = Keyed {
        key: (x.rem_euclid(5)) as u8,
        pos,
    };
    o.sum += x;
    if x % 3 == 0 {
        return;
    }
    o.count += 1;
    o.left -= x.unsigned_abs();
    o.product *= if x % 7 == 1 { -1 } else { 1 };
    o.or |= x as u64;
    o.and &= x as u64 | 1;
    o.xor ^= x as u64;
    o.hi = o.hi.max(x);
    o.lo = x.min(o.lo);
    o.first_max = Some(k).max(o.first_max);
    o.last_max = o.last_max.max(Some(k));
    o.first_min = match o.first_min {
        None => Some(k),
        Some(m) => Some(m.min(k)),
    };
    o.pushed.push(x * 2);
    o.extended.extend([x, -x]);
    o.set.insert(x % 17);
    o.sorted.insert(x / 3);
    o.map.insert(x % 11, pos);
    o.last_pos.insert(k.key, pos);
    o.any_negative |= x < 0;
    o.all_small &= x.abs() < 900;
    o.wrapped += std::num::Wrapping(x as u8);
}

/// The same loop under `#[parallel(<options>)]`, one fn per set of options.
macro_rules! parallel_version {
    ($name:ident, $($options:tt)*) => {
        #[parallel($($options)*)]
        fn $name(v: &[i64]) -> Out {
            let Out {
                mut sum,
                mut count,
                mut left,
                mut product,
                mut or,
                mut and,
                mut xor,
                mut hi,
                mut lo,
                mut first_max,
                mut last_max,
                first_min: _,
                mut pushed,
                mut extended,
                mut set,
                mut sorted,
                mut map,
                mut last_pos,
                mut any_negative,
                mut all_small,
                mut wrapped,
            } = Out::new();
            for (pos, &x) in v.iter().enumerate() {
                let k = Keyed {
                    key: (x.rem_euclid(5)) as u8,
                    pos,
                };
                sum += x;
                if x % 3 == 0 {
                    continue;
                }
                count += 1;
                left -= x.unsigned_abs();
                product *= if x % 7 == 1 { -1 } else { 1 };
                or |= x as u64;
                and &= x as u64 | 1;
                xor ^= x as u64;
                hi = hi.max(x);
                lo = x.min(lo);
                first_max = Some(k).max(first_max);
                last_max = last_max.max(Some(k));
                pushed.push(x * 2);
                extended.extend([x, -x]);
                set.insert(x % 17);
                sorted.insert(x / 3);
                map.insert(x % 11, pos);
                last_pos.insert(k.key, pos);
                any_negative |= x < 0;
                all_small &= x.abs() < 900;
                wrapped += std::num::Wrapping(x as u8);
            }
            // `first_min` uses `Option::min`, where `None` is smallest: keep
            // it sequential-equivalent through a separate min loop below.
            let first_min = min_keyed(v);
            Out {
                sum,
                count,
                left,
                product,
                or,
                and,
                xor,
                hi,
                lo,
                first_max,
                last_max,
                first_min,
                pushed,
                extended,
                set,
                sorted,
                map,
                last_pos,
                any_negative,
                all_small,
                wrapped,
            }
        }
    };
}

/// `x = x.min(e)` on a plain value (the first of equal minimums wins).
#[parallel(cpu, chunk = 3)]
fn min_keyed(v: &[i64]) -> Option<Keyed> {
    let mut best = Keyed {
        key: u8::MAX,
        pos: usize::MAX,
    };
    let mut any = false;
    for (pos, &x) in v.iter().enumerate() {
        if x % 3 == 0 {
            continue;
        }
        any |= true;
        best = best.min(Keyed {
            key: (x.rem_euclid(5)) as u8,
            pos,
        });
    }
    any.then_some(best)
}

parallel_version!(auto_mode, auto);
parallel_version!(cpu_mode, cpu, chunk = 3);
parallel_version!(io_mode, io, workers = 4, chunk = 2);
parallel_version!(seq_mode, seq);
parallel_version!(cpu_big_chunks, cpu, workers = 2);

/// A float sum: equal up to reassociation.
#[parallel(cpu, chunk = 5)]
fn float_sum(v: &[f64]) -> f64 {
    let mut total = 0.0;
    for x in v {
        total += x;
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_reduction_matches_sequential(v in prop::collection::vec(-1000i64..1000, 0..400)) {
        let expected = sequential(&v);
        prop_assert_eq!(&auto_mode(&v), &expected);
        prop_assert_eq!(&cpu_mode(&v), &expected);
        prop_assert_eq!(&io_mode(&v), &expected);
        prop_assert_eq!(&seq_mode(&v), &expected);
        prop_assert_eq!(&cpu_big_chunks(&v), &expected);
    }

    #[test]
    fn float_sum_up_to_reassociation(v in prop::collection::vec(-1e6f64..1e6, 0..400)) {
        let expected: f64 = v.iter().sum();
        let got = float_sum(&v);
        let scale: f64 = v.iter().map(|x| x.abs()).sum::<f64>().max(1.0);
        prop_assert!((got - expected).abs() <= scale * 1e-12, "{got} vs {expected}");
    }
}

#[test]
fn large_input_matches_sequential() {
    let v: Vec<i64> = (0..200_000).map(|i| (i * 7919) % 1999 - 999).collect();
    let expected = sequential(&v);
    assert_eq!(auto_mode(&v), expected);
    assert_eq!(cpu_big_chunks(&v), expected);
}

#[test]
fn empty_input_keeps_initial_values() {
    assert_eq!(cpu_mode(&[]), sequential(&[]));
    assert_eq!(float_sum(&[]), 0.0);
}
