use autopar::parallel;

#[parallel]
fn grid(rows: &[Vec<u32>]) {
    'rows: for row in rows {
        #[parallel]
        for x in row {
            if *x == 0 {
                continue 'rows;
            }
            if *x == 1 {
                break 'rows;
            }
        }
    }
}

fn main() {
    grid(&[]);
}
