// `return` leaves a parallel loop, and the fn, with the earliest returning
// item's value; from a parallel loop nested in another, it cannot.
use autopar::parallel;

#[parallel]
fn find(rows: &[Vec<u32>]) -> Option<u32> {
    #[parallel]
    for row in rows {
        #[parallel(allow_nested)]
        for x in row {
            if *x > 10 {
                return Some(*x);
            }
        }
    }
    None
}

fn main() {
    find(&[]);
}
