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
    d(&[]);
}

#[parallel(io, progress = 42u32 + 1)]
fn d(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}
