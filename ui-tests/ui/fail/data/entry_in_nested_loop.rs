use std::collections::HashMap;

use autopar::parallel;

#[parallel]
fn counts(rows: &[Vec<u32>]) -> HashMap<u32, usize> {
    let mut counts = HashMap::new();
    #[parallel]
    for row in rows {
        #[parallel(allow_nested)]
        for &x in row {
            *counts.entry(x).or_insert(0) += 1;
        }
    }
    counts
}

fn main() {
    counts(&[]);
}
