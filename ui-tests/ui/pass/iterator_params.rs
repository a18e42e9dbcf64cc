//! Iterator parameters as loop inputs, in the forms the error for a non-`Send`
//! iterator suggests.
use autopar::parallel;

#[parallel]
fn total(items: impl IntoIterator<Item = u64, IntoIter: Send>) -> u64 {
    let mut s = 0;
    for x in items {
        s += x;
    }
    s
}

#[parallel]
fn weighted(items: impl Iterator<Item = u64> + Send) -> u64 {
    let mut s = 0;
    for (i, x) in items.enumerate() {
        s += x * i as u64;
    }
    s
}

#[parallel]
fn count<T: IntoIterator<Item = u64>>(items: T) -> usize
where
    T::IntoIter: Send,
{
    let mut n = 0;
    for _ in items {
        n += 1;
    }
    n
}

#[parallel]
fn collected(items: impl IntoIterator<Item = u64>) -> u64 {
    let mut s = 0;
    for x in items.into_iter().collect::<Vec<_>>() {
        s += x;
    }
    s
}

#[parallel]
fn rebound(items: impl IntoIterator<Item = u64>) -> u64 {
    let items: Vec<u64> = items.into_iter().collect();
    let mut s = 0;
    for x in &items {
        s += x;
    }
    s
}

fn main() {
    assert_eq!(total(vec![1, 2, 3]), 6);
    assert_eq!(total(1..=3u64), 6);
    assert_eq!(weighted([5u64, 7, 9].into_iter()), 7 + 18);
    assert_eq!(count(vec![4, 5]), 2);
    assert_eq!(collected(std::iter::repeat_n(2, 10)), 20);
    assert_eq!(rebound([1, 2]), 3);
}
