//! The end-to-end harness: real backends (a few lines of hyper) on 127.0.0.1:0, the real
//! `weir` binary started as a child process, and real clients over HTTP/1.1, h2c and
//! TLS with h2.

#![allow(dead_code, unused_imports)]

pub mod backend;
pub mod browser;
pub mod client;
pub mod kube;
pub mod raw;
pub mod recorder;
pub mod rollout;
pub mod soak;
pub mod weir;

pub use backend::{Backend, BackendOptions};
pub use client::{Client, Outcome};
pub use weir::Weir;

/// How many standard deviations [`binomial_band`] allows.
const BAND: f64 = 4.5;

/// Whether `count` successes of `n` trials are within 4.5 standard deviations of a
/// binomial with probability `p`; `p == 0` or `p == 1` demand exactly 0 or `n`.
///
/// 4.5 sigma: a fair split fails by chance about once in 150,000 checks (three sigma failed
/// CI about once in 400, and the suite makes dozens), while a split off by a third of
/// its weight over a few hundred trials is still caught.
pub fn binomial_band(what: &str, count: u64, n: u64, p: f64) -> Result<(), String> {
    if p == 0.0 {
        return match count {
            0 => Ok(()),
            _ => Err(format!("{what}: a 0-weight backend got {count} of {n}")),
        };
    }
    if p == 1.0 {
        return match count == n {
            true => Ok(()),
            false => Err(format!("{what}: expected all {n}, got {count}")),
        };
    }
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    if (count as f64 - mean).abs() <= BAND * sigma {
        Ok(())
    } else {
        Err(format!(
            "{what}: {count} of {n} is outside {mean:.1} ± {:.1} ({BAND} sigma, p = {p})",
            BAND * sigma
        ))
    }
}

/// Asserts [`binomial_band`].
pub fn assert_binomial(what: &str, count: u64, n: u64, p: f64) {
    if let Err(e) = binomial_band(what, count, n, p) {
        panic!("{e}");
    }
}

/// Everything the server sent on `s` until it closed it, or `None` if it did not close it
/// within `within`.
pub async fn read_until_closed(
    s: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let r = tokio::time::timeout(within, s.read_to_end(&mut buf)).await;
    r.ok().map(|_| buf)
}

/// Whether the server closes `s` within `within` (without a read error).
pub async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(within, s.read_to_end(&mut rest)).await,
        Ok(Ok(_))
    )
}
