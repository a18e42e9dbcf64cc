use autopar::parallel;

#[parallel]
fn f(rows: &[Vec<u32>]) -> u32 {
    let mut total = 0;
    for row in rows {
        row.iter().for_each(|x| total += x);
    }
    total
}

fn main() {
    f(&[]);
}
