// `break` stops the parallel loop itself (the earliest breaking item wins); a
// `break` to an enclosing loop cannot leave an iteration running on a worker.
use autopar::parallel;

#[parallel]
fn first_big(rows: &[Vec<u32>]) {
    'rows: for row in rows {
        #[parallel]
        for x in row {
            if *x > 100 {
                break 'rows;
            }
        }
    }
}

fn main() {
    first_big(&[]);
}
