use autopar::parallel;

#[parallel(workers = 0)]
fn a(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel]
fn b(v: &[u32]) {
    #[parallel(cpu, chunk = 0)]
    for x in v {
        std::hint::black_box(x);
    }
}

fn main() {
    a(&[]);
    b(&[]);
}
