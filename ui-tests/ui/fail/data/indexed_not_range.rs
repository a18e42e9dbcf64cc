use autopar::parallel;

#[parallel]
fn scatter(idx: &[usize], out: &mut [u32]) {
    for &i in idx {
        out[i] = 1;
    }
}

#[parallel]
fn two(a: &mut [u32], b: &mut [u32]) {
    for i in 0..a.len() {
        a[i] = 1;
        b[i] = 2;
    }
}

fn main() {
    scatter(&[], &mut []);
    two(&mut [], &mut []);
}
