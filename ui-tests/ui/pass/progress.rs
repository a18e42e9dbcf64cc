//! `progress` and `progress = "..."`: compile with or without autopar's
//! `progress` feature (without it they do nothing).
#![deny(deprecated)]
use autopar::parallel;

#[parallel(io, workers = 4, progress = "Downloading")]
fn fetch_all(ids: &[u32]) -> Vec<u32> {
    let mut pages = Vec::new();
    for &id in ids {
        pages.push(id * 2);
    }
    pages
}

#[parallel(label = "checks", progress)]
fn check_all(values: &[u32]) -> Result<u32, String> {
    let mut total = 0;
    for &v in values {
        total += small(v)?;
    }
    #[parallel(seq, progress = "Summing again")]
    for &v in values {
        total += v;
    }
    Ok(total)
}

fn small(v: u32) -> Result<u32, String> {
    if v > 100 {
        Err(format!("{v} is too big"))
    } else {
        Ok(v)
    }
}

fn main() {
    assert_eq!(fetch_all(&[1, 2, 3]), [2, 4, 6]);
    assert_eq!(check_all(&[1, 2, 3]), Ok(12));
    assert!(check_all(&[1, 200]).is_err());
}
