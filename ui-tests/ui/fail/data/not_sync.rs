// Captured data is shared between workers: it must be `Sync`.
use autopar::parallel;
use std::cell::Cell;

#[parallel]
fn f(v: &[u32], hits: &Cell<u32>) {
    for x in v {
        hits.set(hits.get() + x);
    }
}

fn main() {
    f(&[], &Cell::new(0));
}
