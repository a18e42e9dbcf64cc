#![deny(deprecated)]
// `allow_nested` silences the warning for the loop that carries it only.
use autopar::parallel;

#[parallel]
fn f(rows: &[Vec<u32>]) -> u32 {
    let mut total = 0;
    #[parallel]
    for row in rows {
        #[parallel(allow_nested)]
        for x in row {
            total += x;
        }
        #[parallel]
        for x in row {
            total += x;
        }
    }
    total
}

#[parallel]
fn g(rows: &[Vec<u32>]) -> u32 {
    let mut total = 0;
    // On the outer loop: silences every warning about this loop's body.
    #[parallel(allow_nested)]
    for row in rows {
        #[parallel]
        for x in row {
            total += x;
        }
        let _ = std::thread::spawn(|| ()).join();
    }
    total
}

fn main() {
    g(&[]);
    f(&[]);
}
