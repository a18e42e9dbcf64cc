//! `progress` takes a literal, or any message expression evaluated once per call.
use autopar::parallel;

#[parallel(io, progress = format!("Fetching {} pages", pages.len()))]
fn fetch(pages: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for p in pages {
        out.push(p * 2);
    }
    out
}

#[parallel(progress)]
fn count(v: &[u32]) -> u32 {
    let mut n = 0;
    for x in v {
        n += x;
    }
    n
}

fn main() {
    assert_eq!(fetch(&[1, 2, 3]), [2, 4, 6]);
    assert_eq!(count(&[1, 2, 3]), 6);
}
