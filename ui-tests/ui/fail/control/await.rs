use autopar::parallel;

async fn fetch(x: u32) -> u32 {
    x
}

#[parallel(io)]
async fn fetch_all(v: &[u32]) -> u32 {
    let mut total = 0;
    for x in v {
        total += fetch(*x).await;
    }
    total
}

fn main() {
    let _ = fetch_all(&[]);
}
