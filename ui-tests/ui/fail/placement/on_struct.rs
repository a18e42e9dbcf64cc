use autopar::parallel;

#[parallel]
struct Pixels(Vec<u8>);

fn main() {
    let _ = Pixels(Vec::new());
}
