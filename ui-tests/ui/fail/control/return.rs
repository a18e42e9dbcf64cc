use autopar::parallel;

#[parallel]
fn check(v: &[u32]) {
    for x in v {
        if *x == 0 {
            // In a closure this would silently act like `continue`.
            return;
        }
        std::hint::black_box(x);
    }
}

#[parallel]
fn find(v: &[u32]) -> Option<u32> {
    for x in v {
        if *x > 10 {
            return Some(*x);
        }
    }
    None
}

fn main() {
    check(&[]);
    find(&[]);
}
