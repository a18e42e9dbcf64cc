#![deny(deprecated)]
use autopar::parallel;

#[parallel]
fn f(rows: &[Vec<u32>]) -> u32 {
    let mut total = 0;
    #[parallel]
    for row in rows {
        #[parallel]
        for x in row {
            total += x;
        }
    }
    total
}

fn main() {
    f(&[]);
}
