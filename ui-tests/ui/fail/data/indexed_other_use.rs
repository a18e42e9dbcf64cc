use autopar::parallel;

#[parallel]
fn smooth(out: &mut [f32]) {
    for i in 1..out.len() - 1 {
        out[i] = (out[i - 1] + out[i + 1]) / 2.0;
    }
}

fn main() {
    smooth(&mut []);
}
