//! The weighted split, tested the way Gateway API conformance does: at least 500
//! requests, 10 in flight, every backend inside a binomial 3-sigma band and 0-weight
//! backends at exactly 0, over HTTP/1.1, h2c and TLS with h2.

mod support;

use support::client::{count_by_backend, failures, load};
use support::raw::{client_config, tls_files};
use support::weir::config;
use support::{assert_binomial, binomial_band, Backend, Client, Weir};

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

/// Every request succeeded, 0-weight backends got exactly nothing (hard failures), and
/// the others are inside their 3-sigma bands (returned, so the caller can re-sample).
fn check(label: &str, weights: &[u32], outcomes: &[support::Outcome]) -> Result<(), String> {
    assert!(
        failures(outcomes).is_empty(),
        "{label}: failed requests: {:?}",
        &failures(outcomes)[..1]
    );
    let counts = count_by_backend(outcomes);
    let total: u32 = weights.iter().sum();
    for (i, w) in weights.iter().enumerate() {
        let got = counts.get(&format!("b{i}")).copied().unwrap_or(0);
        let what = format!("{label} {weights:?} b{i}");
        if *w == 0 {
            assert_binomial(&what, got, N as u64, 0.0);
        } else {
            binomial_band(&what, got, N as u64, *w as f64 / total as f64)?;
        }
    }
    Ok(())
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
        // A correct split lands outside a 3-sigma band 0.27% of the time; with a dozen
        // splits per run that would fail CI now and then. One re-sample makes a chance
        // failure about one in 140,000, while a wrong weight still fails both samples.
        let mut outcomes = load(&client, &authority, N, IN_FLIGHT).await;
        if let Err(first) = check(label, weights, &outcomes) {
            let again = load(&client, &authority, N, IN_FLIGHT).await;
            if let Err(second) = check(label, weights, &again) {
                panic!("outside the band twice:\n{first}\n{second}");
            }
            outcomes.extend(again);
        }
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

fn cert_for(name: &str) -> (String, String, Vec<u8>) {
    let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    (
        c.cert.pem(),
        c.signing_key.serialize_pem(),
        c.cert.der().to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_picks_the_certificate_by_sni_and_defaults_to_the_first() {
    let b = Backend::start("b0").await;
    let (a_pem, a_key, a_der) = cert_for("a.test");
    let (b_pem, b_key, b_der) = cert_for("b.test");
    let yaml = config(&[("b0", b.addr, 1)], "", "").replace(
        "  - address: 127.0.0.1:0\nadmin",
        "  - address: 127.0.0.1:0\n    tls:\n      certificates:\n        - {cert: a.pem, key: a.key}\n        - {cert: b.pem, key: b.key}\nadmin",
    );
    let weir = Weir::start_with_files(
        &yaml,
        &[
            ("a.pem", a_pem.as_bytes()),
            ("a.key", a_key.as_bytes()),
            ("b.pem", b_pem.as_bytes()),
            ("b.key", b_key.as_bytes()),
        ],
    )
    .await;
    let addr = weir.listeners[0];
    // Each client trusts only one certificate: the handshake succeeds only if weir
    // presents the one for the SNI name it sent.
    for (name, der) in [("a.test", &a_der), ("b.test", &b_der)] {
        let c = Client::tls(addr, name, der).await;
        let o = c
            .get(&format!("{name}:{}", addr.port()), "/", &[])
            .await
            .unwrap();
        assert_eq!(o.status, 200);
    }
    // An unknown name gets the first certificate (a.test's).
    let cfg = client_config(&a_der, &[]);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Verification is against the name a.test, but the SNI sent is other.test.
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let wrong = connector
        .connect(
            rustls_pki_types::ServerName::try_from("other.test").unwrap(),
            tcp,
        )
        .await;
    let err = wrong
        .expect_err("other.test is in neither certificate")
        .to_string();
    assert!(
        err.contains("NotValidForName") || err.contains("not valid for name"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_may_be_dns_names() {
    let b = Backend::start("named").await;
    let yaml = config(&[("named", b.addr, 1)], "", "")
        .replace(&b.addr.to_string(), &format!("localhost:{}", b.addr.port()));
    assert!(yaml.contains("localhost:"));
    let weir = Weir::start(&yaml).await;
    let o = Client::http1()
        .get(&weir.authority(), "/", &[])
        .await
        .unwrap();
    assert_eq!((o.status, o.backend.as_deref()), (200, Some("named")));
    let routes = weir.admin_json("/routes").await;
    let eps = routes["routes"][0]["backends"][0]["endpoints"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        eps.iter().any(|e| e["address"] == b.addr.to_string()),
        "{routes}"
    );
}
