use autopar::parallel;

#[parallel(io, progress = 42)]
fn a(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(progress = "Fetching", progress)]
fn b(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(cpu, progress_bar)]
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
