//! Loops marked inside a fn: positions, options, attributes, labels, patterns.
use autopar::parallel;
use std::collections::{BTreeMap, HashMap, HashSet};

#[parallel]
fn positions(v: &[u32], flag: bool) -> u32 {
    let mut total = 0;
    if flag {
        #[parallel(cpu, chunk = 64)]
        for x in v {
            total += x;
        }
    }
    let add = |k: u32| -> u32 {
        let mut s = 0;
        #[parallel(seq)]
        for x in v {
            s += x * k;
        }
        s
    };
    total += add(2);
    {
        #[allow(clippy::needless_range_loop)]
        #[autopar::parallel(io, workers = 2 + 2, label = "nested block")]
        for i in 0..v.len() {
            total += v[i];
        }
    }
    #[cfg(any())]
    #[parallel]
    for x in v {
        total += undefined_thing(x);
    }
    total
}

#[parallel]
fn labels_and_patterns(pairs: &[(u32, u32)], map: &HashMap<String, u32>) -> (u32, u32, u32) {
    let mut a = 0;
    let mut b = 0;
    let mut c = 0;
    'outer: for &(x, y) in pairs {
        for k in 0..x {
            if k == 3 {
                continue 'outer;
            }
            if k == 2 {
                break;
            }
        }
        if y == 0 {
            continue;
        }
        a += x * y;
    }
    #[parallel]
    for (i, (x, _)) in pairs.iter().enumerate() {
        b += i as u32 + x;
    }
    #[parallel]
    for (k, v) in map {
        c += k.len() as u32 + v;
    }
    (a, b, c)
}

#[parallel]
fn every_reduction(v: &[i64]) -> (i64, i64, i64, u64, u64, u64, i64, i64, Vec<i64>, HashSet<i64>, BTreeMap<i64, usize>) {
    let mut add = 0;
    let mut sub = 0;
    let mut mul = 1;
    let mut or = 0u64;
    let mut and = u64::MAX;
    let mut xor = 0u64;
    let mut hi = i64::MIN;
    let mut lo = i64::MAX;
    let mut all = Vec::new();
    let mut set = HashSet::new();
    let mut map = BTreeMap::new();
    for (i, &x) in v.iter().enumerate() {
        add += x;
        sub -= x;
        mul *= x.signum();
        or |= x as u64;
        and &= x as u64;
        xor ^= x as u64;
        hi = hi.max(x);
        lo = x.min(lo);
        all.push(x);
        all.extend([x, x]);
        set.insert(x);
        map.insert(x, i);
    }
    (add, sub, mul, or, and, xor, hi, lo, all, set, map)
}

#[parallel]
fn fallible(v: &[&str]) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let mut total = 0;
    for s in v {
        let n: u32 = s.parse()?;
        if n == 0 {
            Err::<(), _>("zero")?;
        }
        total += n;
    }
    Ok(total)
}

fn main() {
    assert_eq!(positions(&[1, 2], true), 3 + 6 + 3);
    let map = HashMap::from([("a".to_string(), 1)]);
    assert_eq!(labels_and_patterns(&[(1, 2)], &map), (2, 1, 2));
    let _ = every_reduction(&[1, -2, 3]);
    let _ = fallible(&["1"]);
}
