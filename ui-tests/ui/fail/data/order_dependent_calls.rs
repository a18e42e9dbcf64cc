use std::collections::{HashMap, HashSet};

use autopar::parallel;

#[parallel]
fn first_occurrences(v: &[u32]) -> Vec<u32> {
    let mut seen = HashSet::new();
    let mut firsts = Vec::new();
    for &x in v {
        if seen.insert(x) {
            firsts.push(x);
        }
    }
    firsts
}

#[parallel]
fn groups(v: &[u32]) -> HashMap<u32, Vec<u32>> {
    let mut by_key: HashMap<u32, Vec<u32>> = HashMap::new();
    for &x in v {
        by_key.entry(x % 3).or_default().push(x);
    }
    by_key
}

#[parallel]
fn sorts(v: &[u32], mut log: Vec<u32>) -> Vec<u32> {
    for &x in v {
        let _ = x;
        log.sort();
    }
    log
}

fn main() {
    first_occurrences(&[]);
    groups(&[]);
    sorts(&[], Vec::new());
}
