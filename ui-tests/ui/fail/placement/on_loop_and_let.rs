use autopar::parallel;

#[parallel]
fn f(v: &[u32]) -> u32 {
    #[parallel]
    let total = v.len() as u32;
    #[parallel(io)]
    loop {
        break;
    }
    total
}

fn main() {
    f(&[1]);
}
