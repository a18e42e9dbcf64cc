use autopar::parallel;

#[parallel]
fn parse(v: &[&str]) {
    for s in v {
        let n: u32 = s.parse()?;
        std::hint::black_box(n);
    }
}

fn main() {
    parse(&[]);
}
