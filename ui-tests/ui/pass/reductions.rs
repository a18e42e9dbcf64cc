//! Every reduction idiom runs and gives the sequential loop's result.
use std::collections::{BTreeMap, HashMap, HashSet};

use autopar::parallel;

fn bucket(x: u32) -> usize {
    (x % 7) as usize
}

#[parallel(cpu, chunk = 3)]
fn word_counts(words: &[&str]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for w in words {
        *counts.entry(w.to_string()).or_insert(0) += 1;
    }
    counts
}

#[parallel(cpu, chunk = 2)]
fn by_default(v: &[u32]) -> (BTreeMap<u32, u64>, BTreeMap<u32, u64>, HashMap<u32, u8>) {
    let mut sums: BTreeMap<u32, u64> = BTreeMap::from([(0, 100)]);
    let mut left: BTreeMap<u32, u64> = BTreeMap::new();
    let mut bits: HashMap<u32, u8> = HashMap::new();
    for &x in v {
        *sums.entry(x % 3).or_default() += u64::from(x);
        *left.entry(x % 2).or_insert(1_000) -= u64::from(x);
        *bits.entry(x % 4).or_insert(0) |= 1 << (x % 8);
    }
    (sums, left, bits)
}

#[parallel(cpu, chunk = 4)]
fn histogram(v: &[u32]) -> ([u64; 7], Vec<i32>) {
    let mut hist = [0u64; 7];
    let mut signed = vec![5i32; 7];
    for &x in v {
        hist[bucket(x)] += 1;
        let n = signed.len();
        signed[(x as usize * 3) % n] -= 1;
    }
    (hist, signed)
}

#[parallel(cpu, chunk = 2)]
fn shadowed(v: &[u32]) -> (u32, u32) {
    let mut total = 0;
    let mut count = 0;
    for &x in v {
        total += x;
        let doubled: Vec<u32> = (0..2).map(|total| total * x).collect();
        if let Some(total) = doubled.first() {
            let _ = total;
        }
        for total in 0..1 {
            let _ = total;
        }
        let total = x * 2;
        if total > 6 {
            continue;
        }
        let count = count_of(total);
        let _ = count;
    }
    for &x in v {
        count += 1;
        let _ = x;
    }
    (total, count)
}

fn count_of(x: u32) -> u32 {
    x
}

#[parallel(cpu, chunk = 2)]
fn dedup_first(v: &[u32]) -> HashSet<u32> {
    let mut seen = HashSet::new();
    for &x in v {
        seen.insert(x);
    }
    seen
}

fn main() {
    let words = ["a", "b", "a", "c", "b", "a"];
    let mut seq = HashMap::new();
    for w in words {
        *seq.entry(w.to_string()).or_insert(0) += 1;
    }
    assert_eq!(word_counts(&words), seq);

    let v: Vec<u32> = (0..50).map(|i| (i * 37) % 23).collect();
    let (mut sums, mut left, mut bits) = (BTreeMap::from([(0, 100)]), BTreeMap::new(), HashMap::new());
    let (mut hist, mut signed) = ([0u64; 7], vec![5i32; 7]);
    for &x in &v {
        *sums.entry(x % 3).or_default() += u64::from(x);
        *left.entry(x % 2).or_insert(1_000) -= u64::from(x);
        *bits.entry(x % 4).or_insert(0) |= 1 << (x % 8);
        hist[bucket(x)] += 1;
        signed[(x as usize * 3) % 7] -= 1;
    }
    assert_eq!(by_default(&v), (sums, left, bits));
    assert_eq!(histogram(&v), (hist, signed));
    assert_eq!(shadowed(&v), (v.iter().sum(), v.len() as u32));
    assert_eq!(dedup_first(&v), v.iter().copied().collect());
}
