use autopar::parallel;

#[parallel]
fn f(v: &[u32]) -> (u32, Vec<u32>) {
    let mut total = 0;
    let mut seen = Vec::new();
    for x in v {
        total += x;
        if total > 100 {
            println!("big");
        }
        seen.push(*x);
        println!("{}", seen.len());
    }
    (total, seen)
}

fn main() {
    f(&[]);
}
