#![deny(deprecated)]
use autopar::parallel;

#[parallel]
fn f(v: &[u32]) -> u32 {
    if v.is_empty() {
        return 0;
    }
    v.iter().sum()
}

fn main() {
    f(&[]);
}
