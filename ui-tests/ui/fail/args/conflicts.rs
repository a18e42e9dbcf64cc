use autopar::parallel;

#[parallel(seq, workers = 4)]
fn a(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(cpu, io)]
fn b(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(chunk = 8, chunk = 16)]
fn c(v: &[u32]) {
    for x in v {
        std::hint::black_box(x);
    }
}

#[parallel(workers = 2, io)]
fn d(v: &[u32]) {
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
