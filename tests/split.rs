//! The weighted split, tested the way Gateway API conformance does: at least 500
//! requests, 10 in flight, every backend inside a binomial 3-sigma band and 0-weight
//! backends at exactly 0, over HTTP/1.1, h2c and TLS with h2.

mod support;

use support::client::{count_by_backend, failures, load};
use support::weir::config;
use support::{assert_binomial, Backend, Client, Weir};

const N: usize = 600;
const IN_FLIGHT: usize = 10;

const SPLITS: &[&[u32]] = &[&[90, 10], &[50, 50], &[70, 30, 0], &[100, 0]];

async fn backends(n: usize) -> Vec<Backend> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(Backend::start(&format!("b{i}")).await);
    }
    v
}

fn check(label: &str, weights: &[u32], outcomes: &[support::Outcome]) {
    assert!(
        failures(outcomes).is_empty(),
        "{label}: failed requests: {:?}",
        &failures(outcomes)[..1]
    );
    let counts = count_by_backend(outcomes);
    let total: u32 = weights.iter().sum();
    for (i, w) in weights.iter().enumerate() {
        let got = counts.get(&format!("b{i}")).copied().unwrap_or(0);
        assert_binomial(
            &format!("{label} {weights:?} b{i}"),
            got,
            N as u64,
            *w as f64 / total as f64,
        );
    }
}

async fn run_splits(make_client: impl AsyncFnMut(&Weir) -> Client, label: &str, tls: bool) {
    let mut make_client = make_client;
    for weights in SPLITS {
        let bs = backends(weights.len()).await;
        let list: Vec<_> = bs
            .iter()
            .zip(weights.iter())
            .map(|(b, w)| (b.name.as_str(), b.addr, *w))
            .collect();
        let mut yaml = config(&list, "", "");
        if tls {
            yaml = yaml.replace(
                "  - address: 127.0.0.1:0\nadmin",
                "  - address: 127.0.0.1:0\n    tls:\n      certificates:\n        - {cert: cert.pem, key: key.pem}\nadmin",
            );
        }
        let files = tls_files();
        let weir = if tls {
            Weir::start_with_files(
                &yaml,
                &[
                    ("cert.pem", files.0.as_bytes()),
                    ("key.pem", files.1.as_bytes()),
                ],
            )
            .await
        } else {
            Weir::start(&yaml).await
        };
        let client = make_client(&weir).await;
        let authority = if tls {
            format!("localhost:{}", weir.listeners[0].port())
        } else {
            weir.authority()
        };
        let outcomes = load(&client, &authority, N, IN_FLIGHT).await;
        check(label, weights, &outcomes);
        // The backends saw exactly what the client saw.
        for (i, b) in bs.iter().enumerate() {
            let seen = count_by_backend(&outcomes)
                .get(&format!("b{i}"))
                .copied()
                .unwrap_or(0);
            assert_eq!(b.hits(), seen, "{label} {weights:?}: backend b{i} hits");
        }
    }
}

/// A self-signed certificate for `localhost` (PEM cert, PEM key, DER cert).
pub fn tls_files() -> (String, String, Vec<u8>) {
    thread_local! {
        static CERT: (String, String, Vec<u8>) = {
            let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
            (c.cert.pem(), c.signing_key.serialize_pem(), c.cert.der().to_vec())
        };
    }
    CERT.with(|c| c.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_over_http1() {
    run_splits(async |_w: &Weir| Client::http1(), "http/1.1", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_over_h2c_is_per_request_not_per_connection() {
    // One multiplexed connection carries every request: a per-connection pick would put
    // all of them on one backend.
    run_splits(async |_w: &Weir| Client::h2c(), "h2c", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_over_tls_h2() {
    let der = tls_files().2;
    run_splits(
        async |w: &Weir| Client::tls(w.listeners[0], "localhost", &der).await,
        "tls+h2",
        true,
    )
    .await;
}
