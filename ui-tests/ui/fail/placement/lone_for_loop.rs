// A loop's attribute only works inside a `#[parallel]` fn.
use autopar::parallel;

fn main() {
    let v = vec![1, 2, 3];
    let mut total = 0;
    #[parallel]
    for x in &v {
        total += x;
    }
    println!("{total}");
}
