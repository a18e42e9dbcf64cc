use autopar::parallel;

#[parallel]
fn first_big(v: &[u32]) {
    for x in v {
        if *x > 100 {
            break;
        }
    }
}

fn main() {
    first_big(&[]);
}
