use autopar::parallel;

#[parallel]
fn f(v: &[i64]) -> i64 {
    let mut acc = 1;
    for x in v {
        if *x > 0 {
            acc += x;
        } else {
            acc *= x;
        }
    }
    acc
}

fn main() {
    f(&[]);
}
