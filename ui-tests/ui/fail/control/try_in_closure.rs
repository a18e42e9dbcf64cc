use autopar::parallel;

#[parallel]
fn parse(v: &[&str]) -> Result<(), std::num::ParseIntError> {
    let run = || -> Result<(), std::num::ParseIntError> {
        #[parallel]
        for s in v {
            let n: u32 = s.parse()?;
            std::hint::black_box(n);
        }
        Ok(())
    };
    run()
}

fn main() {
    let _ = parse(&[]);
}
