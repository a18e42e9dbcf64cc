use autopar::parallel;

#[parallel]
fn drain(mut n: u32) -> u32 {
    let mut steps = 0;
    #[parallel]
    while n > 0 {
        n /= 2;
        steps += 1;
    }
    steps
}

fn main() {
    drain(8);
}
