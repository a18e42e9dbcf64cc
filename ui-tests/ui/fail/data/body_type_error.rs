// Type errors in the body point at the user's code.
use autopar::parallel;

#[parallel]
fn f(v: &[u32]) -> u64 {
    let mut total: u64 = 0;
    for x in v {
        let y: String = x + 1;
        total += y;
    }
    total
}

fn main() {
    f(&[]);
}
