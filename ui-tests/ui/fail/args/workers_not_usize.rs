use autopar::parallel;

#[parallel(workers = "four")]
fn a(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

fn main() {
    a(&[]);
}
