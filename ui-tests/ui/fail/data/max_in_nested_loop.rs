use autopar::parallel;

#[parallel(allow_nested)]
fn f(rows: &[Vec<u32>]) -> u32 {
    let mut best = 0;
    #[parallel]
    for row in rows {
        #[parallel]
        for x in row {
            best = best.max(*x);
        }
    }
    best
}

fn main() {
    f(&[]);
}
