#![deny(deprecated)]
use autopar::parallel;

// The only loop is inside a closure, which `#[parallel]` does not take.
#[parallel]
fn f(v: &[u32]) -> u32 {
    if v.is_empty() {
        return 0;
    }
    let sum = |v: &[u32]| {
        let mut total = 0;
        for x in v {
            total += x;
        }
        total
    };
    sum(v)
}

fn main() {
    f(&[]);
}
