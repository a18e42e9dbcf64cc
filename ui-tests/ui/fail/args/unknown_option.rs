use autopar::parallel;

#[parallel(cpu, threads = 4)]
fn a(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(ioo)]
fn b(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(frobnicate)]
fn c(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

fn main() {
    a(&[]);
    b(&[]);
    c(&[]);
}
