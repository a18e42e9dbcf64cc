use autopar::parallel;

#[parallel]
const fn sum(v: &[u32]) -> u32 {
    let mut total = 0;
    let mut i = 0;
    while i < v.len() {
        total += v[i];
        i += 1;
    }
    total
}

fn main() {
    sum(&[1]);
}
