//! Dead and slow backends: fast answers (502s or spills), never hangs; 504 at the
//! configured timeout; retries of idempotent requests on 503.

mod support;

use std::time::{Duration, Instant};
use support::client::{Load, Timed};
use support::weir::config;
use support::{Backend, BackendOptions, Client, Weir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_killed_under_load_spills_and_never_hangs() {
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    let weir = Weir::start(&config(
        &[("stable", stable.addr, 50), ("canary", canary.addr, 50)],
        "",
        "",
    ))
    .await;
    let load = Load::start(&weir.authority(), 20);
    tokio::time::sleep(Duration::from_millis(300)).await;
    canary.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let all: Vec<Timed> = load.stop().await;
    // Every request got an answer quickly: a success (spilled to stable or retried) or a
    // fast 502 for a request whose connection died mid-flight.
    let slowest = all.iter().map(|t| t.outcome.elapsed).max().unwrap();
    assert!(
        slowest < Duration::from_secs(2),
        "a request hung for {slowest:?}"
    );
    for t in &all {
        assert!(
            matches!(t.outcome.status, 200 | 502),
            "unexpected {:?}",
            t.outcome
        );
        if t.outcome.status == 502 {
            assert!(
                t.outcome.weir_error.is_some(),
                "502 without a reason: {:?}",
                t.outcome
            );
        }
    }
    // Once the death is known, new requests all go to stable and succeed.
    let settled = killed + Duration::from_millis(200);
    let late: Vec<_> = all.iter().filter(|t| t.started > settled).collect();
    assert!(
        late.len() > 100,
        "too little load after the kill: {}",
        late.len()
    );
    assert!(late
        .iter()
        .all(|t| t.outcome.status == 200 && t.outcome.backend.as_deref() == Some("stable")));
    assert!(
        weir.metric("weir_spilled_requests_total{route=\"web\",backend=\"canary\"}")
            .await
            > 0.0
    );
    let routes = weir.admin_json("/routes").await;
    assert_eq!(
        routes["routes"][0]["backends"][1]["endpoints"][0]["live"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_fail_policy_a_dead_backend_answers_fast_errors() {
    let stable = Backend::start("stable").await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let route = "    onNoEndpoints: fail\n    retries: {attempts: 0}\n";
    let weir = Weir::start(&config(
        &[("stable", stable.addr, 0), ("canary", dead_addr, 100)],
        route,
        "",
    ))
    .await;
    let c = Client::http1();
    // Three refused connects in a row eject the endpoint (one could be a full accept
    // queue); each is answered 502 at once.
    for _ in 0..3 {
        let o = c.get(&weir.authority(), "/", &[]).await.unwrap();
        assert_eq!((o.status, o.weir_error.as_deref()), (502, Some("connect")));
    }
    // Ejected: the next ones are 503 no_endpoints without even trying to connect.
    let next = c.get(&weir.authority(), "/", &[]).await.unwrap();
    assert_eq!(
        (next.status, next.weir_error.as_deref()),
        (503, Some("no_endpoints"))
    );
    assert_eq!(stable.hits(), 0, "fail policy never spills");
    assert_eq!(
        weir.metric(
            "weir_upstream_errors_total{route=\"web\",backend=\"canary\",reason=\"connect\"}"
        )
        .await,
        3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_backend_gives_504_at_the_configured_timeout() {
    let slow = Backend::start_with(
        "slow",
        BackendOptions {
            delay: Duration::from_secs(5),
            status: 0,
        },
    )
    .await;
    let route = "    timeouts: {connect: 1s, request: 400ms}\n";
    let weir = Weir::start(&config(&[("slow", slow.addr, 1)], route, "")).await;
    let o = Client::http1()
        .get(&weir.authority(), "/", &[])
        .await
        .unwrap();
    assert_eq!((o.status, o.weir_error.as_deref()), (504, Some("timeout")));
    assert!(
        o.elapsed >= Duration::from_millis(400) && o.elapsed < Duration::from_millis(1500),
        "{:?}",
        o.elapsed
    );
    assert_eq!(
        weir.metric("weir_requests_total{route=\"web\",backend=\"slow\",code=\"504\"}")
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_requests_are_retried_on_503_on_another_endpoint() {
    let bad = Backend::start_with(
        "bad",
        BackendOptions {
            delay: Duration::ZERO,
            status: 503,
        },
    )
    .await;
    let good = Backend::start("good").await;
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  app:\n    endpoints: [\"{}\", \"{}\"]\nroutes:\n  - name: web\n    backends:\n      - service: app\n        weight: 1\n",
        bad.addr, good.addr
    );
    let weir = Weir::start(&yaml).await;
    let c = Client::http1();
    for i in 0..8 {
        let o = c.get(&weir.authority(), "/", &[]).await.unwrap();
        assert_eq!(
            (o.status, o.backend.as_deref()),
            (200, Some("good")),
            "request {i}, bad hits {}",
            bad.hits()
        );
    }
    assert!(
        bad.hits() >= 4,
        "round robin sent first attempts to the bad endpoint"
    );
    // The retry budget (about one retry per five requests, after a reserve of ten) stops
    // an upstream that fails everything from doubling the load: 503s come through.
    let mut passed_through = 0;
    for _ in 0..40 {
        let o = c.get(&weir.authority(), "/", &[]).await.unwrap();
        passed_through += (o.status == 503) as u32;
    }
    assert!(
        passed_through > 10,
        "budget exhausted, most 503s pass through: {passed_through}"
    );
    // A POST is not idempotent: a 503 is passed through, not retried.
    let mut saw_503 = false;
    for _ in 0..10 {
        let req = hyper::Request::post(format!("http://{}/", weir.authority()))
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .unwrap();
        let o = c.request(req).await.unwrap();
        saw_503 |= o.status == 503;
    }
    assert!(saw_503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_dead_answers_fast_instead_of_bouncing_between_them() {
    let mut dead = Vec::new();
    for _ in 0..2 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        dead.push(l.local_addr().unwrap());
    }
    // Listeners dropped: both addresses refuse connections.
    let weir = Weir::start(&config(&[("a", dead[0], 50), ("b", dead[1], 50)], "", "")).await;
    let c = Client::http1();
    for _ in 0..6 {
        let o = tokio::time::timeout(Duration::from_secs(5), c.get(&weir.authority(), "/", &[]))
            .await
            .expect("answered, not stuck retrying")
            .unwrap();
        assert!(
            matches!(
                (o.status, o.weir_error.as_deref()),
                (502, Some("connect")) | (503, Some("no_endpoints"))
            ),
            "{o:?}"
        );
    }
    // Each endpoint is tried at most once per request: bouncing between the two dead
    // backends would count up to eight connection attempts per request.
    let mut attempts = 0.0;
    for b in ["a", "b"] {
        let series = format!(
            "weir_upstream_errors_total{{route=\"web\",backend=\"{b}\",reason=\"connect\"}}"
        );
        attempts += weir.metric(&series).await;
    }
    assert!(
        (1.0..=12.0).contains(&attempts),
        "{attempts} connection attempts for 6 requests"
    );
}
