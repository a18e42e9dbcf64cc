use autopar::parallel;

#[parallel]
fn hist(v: &[u8]) -> [u32; 4] {
    let mut hist = [0u32; 4];
    for &x in v {
        if hist[0] < 10 {
            hist[(x % 4) as usize] += 1;
        }
    }
    hist
}

fn main() {
    hist(&[]);
}
