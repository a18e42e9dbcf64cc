use autopar::parallel;

#[parallel(label = resize, allow_nested = true, workers)]
fn a(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(8)]
fn b(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

fn main() {
    a(&[]);
    b(&[]);
}
