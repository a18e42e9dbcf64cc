// A parameter whose iterator is not known to be `Send` can't be a loop's input: the
// workers pull items from it on other threads. The error names the parameter and the fix.
use autopar::parallel;

#[parallel]
fn total(items: impl IntoIterator<Item = u64>) -> u64 {
    let mut s = 0;
    for x in items {
        s += x;
    }
    s
}

#[parallel]
fn weighted(items: impl Iterator<Item = u64>) -> u64 {
    let mut s = 0;
    for (i, x) in items.enumerate() {
        s += x * i as u64;
    }
    s
}

#[parallel]
fn count<T: IntoIterator<Item = u64>>(items: T) -> usize {
    let mut n = 0;
    for _ in items {
        n += 1;
    }
    n
}

fn main() {
    total(vec![1, 2]);
    weighted(0..2);
    count(vec![1]);
}
