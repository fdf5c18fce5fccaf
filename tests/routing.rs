//! Header routes, mirroring and sticky cohorts, end to end.

mod support;

use std::time::{Duration, Instant};
use support::client::{count_by_backend, failures, load};
use support::weir::config;
use support::{assert_binomial, Backend, BackendOptions, Client, Weir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_route_overrides_the_weights() {
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    let route = "    headerRoutes:\n      - name: beta\n        match:\n          - headerName: x-beta\n            headerValue: {exact: \"yes\"}\n          - headerName: user-agent\n            headerValue: {regex: \"^tester/[0-9]+$\"}\n        backend: canary\n";
    let weir = Weir::start(&config(
        &[("stable", stable.addr, 100), ("canary", canary.addr, 0)],
        route,
        "",
    ))
    .await;
    let c = Client::http1();
    let a = weir.authority();
    for _ in 0..50 {
        assert_eq!(
            c.get(&a, "/", &[("x-beta", "yes")])
                .await
                .unwrap()
                .backend
                .as_deref(),
            Some("canary")
        );
        assert_eq!(
            c.get(&a, "/", &[("user-agent", "tester/42")])
                .await
                .unwrap()
                .backend
                .as_deref(),
            Some("canary")
        );
        assert_eq!(
            c.get(&a, "/", &[("x-beta", "no")])
                .await
                .unwrap()
                .backend
                .as_deref(),
            Some("stable")
        );
        assert_eq!(
            c.get(&a, "/", &[("user-agent", "tester/x")])
                .await
                .unwrap()
                .backend
                .as_deref(),
            Some("stable")
        );
    }
    let routes = weir.admin_json("/routes").await;
    assert_eq!(routes["routes"][0]["headerRoutes"][0]["backend"], "canary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_copies_a_percentage_without_slowing_the_primary() {
    let stable = Backend::start("stable").await;
    let shadow = Backend::start_with(
        "shadow",
        BackendOptions {
            delay: Duration::from_millis(1000),
            status: 0,
        },
    )
    .await;
    let route = "    mirrors:\n      - name: shadow\n        backend: shadow\n        percentage: 30\n        match:\n          - method: {exact: GET}\n";
    let yaml = config(&[("stable", stable.addr, 1)], route, "").replace(
        "services:\n",
        &format!(
            "services:\n  shadow:\n    endpoints: [\"{}\"]\n",
            shadow.addr
        ),
    );
    let weir = Weir::start(&yaml).await;
    const N: u64 = 600;
    let c = Client::http1();
    let start = Instant::now();
    let outcomes = load(&c, &weir.authority(), N as usize, 10).await;
    let took = start.elapsed();
    assert!(failures(&outcomes).is_empty());
    assert_eq!(
        count_by_backend(&outcomes).get("stable"),
        Some(&N),
        "every answer comes from the primary"
    );
    // A 1 s mirror must not show in the primary's latency: no primary request waits
    // for it (each took far less than the mirror's delay).
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap();
    assert!(
        slowest < Duration::from_millis(700),
        "a primary request took {slowest:?}; the whole run took {took:?}"
    );
    // Wait for the copies in flight, then count what the mirror received.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_binomial("mirrored copies", shadow.hits(), N, 0.30);
    let sent = weir
        .metric("weir_mirror_requests_total{route=\"web\",backend=\"shadow\",outcome=\"sent\"}")
        .await;
    assert_eq!(sent as u64, shadow.hits());
    // A POST does not match the rule's method: never mirrored.
    let before = shadow.hits();
    for _ in 0..30 {
        let req = hyper::Request::post(format!("http://{}/", weir.authority()))
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"x")))
            .unwrap();
        assert_eq!(c.request(req).await.unwrap().status, 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(shadow.hits(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_cohort_by_header_only_grows_with_the_weight() {
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    let route = "    sticky: {header: x-user, canary: canary}\n";
    let weir = Weir::start(&config(
        &[("stable", stable.addr, 90), ("canary", canary.addr, 10)],
        route,
        "",
    ))
    .await;
    let c = Client::http1();
    let a = weir.authority();
    let users: Vec<String> = (0..400).map(|i| format!("user-{i}")).collect();
    let mut on_canary_before: Vec<bool> = Vec::new();
    for (step, weights) in [
        (10, r#"{"stable": 90, "canary": 10}"#),
        (20, r#"{"stable": 80, "canary": 20}"#),
        (50, r#"{"stable": 50, "canary": 50}"#),
    ] {
        weir.set_weights("web", weights).await;
        let mut on_canary = Vec::new();
        for u in &users {
            let first = c
                .get(&a, "/", &[("x-user", u)])
                .await
                .unwrap()
                .backend
                .unwrap();
            // The same user gets the same side every time at a given weight.
            for _ in 0..2 {
                assert_eq!(
                    c.get(&a, "/", &[("x-user", u)])
                        .await
                        .unwrap()
                        .backend
                        .unwrap(),
                    first
                );
            }
            on_canary.push(first == "canary");
        }
        for (i, was) in on_canary_before.iter().enumerate() {
            assert!(
                !was || on_canary[i],
                "{} left the canary when it grew to {step}%",
                users[i]
            );
        }
        let n = on_canary.iter().filter(|x| **x).count() as u64;
        assert_binomial(
            &format!("users on canary at {step}%"),
            n,
            users.len() as u64,
            step as f64 / 100.0,
        );
        on_canary_before = on_canary;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_cohort_by_cookie_sets_the_bucket_once() {
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    let route = "    sticky: {cookie: weir-bucket, canary: canary}\n";
    let weir = Weir::start(&config(
        &[("stable", stable.addr, 70), ("canary", canary.addr, 30)],
        route,
        "",
    ))
    .await;
    let c = Client::http1();
    let a = weir.authority();
    let mut canary_users = 0;
    for _ in 0..300 {
        let first = c.get(&a, "/", &[]).await.unwrap();
        let cookie = first
            .set_cookie
            .clone()
            .expect("first response sets the bucket cookie");
        let pair = cookie.split(';').next().unwrap().to_string();
        assert!(pair.starts_with("weir-bucket="));
        let again = c.get(&a, "/", &[("cookie", &pair)]).await.unwrap();
        assert_eq!(again.set_cookie, None, "the cookie is set only once");
        assert_eq!(again.backend, first.backend);
        canary_users += (first.backend.as_deref() == Some("canary")) as u64;
    }
    assert_binomial("cookie users on canary", canary_users, 300, 0.3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_404_and_all_zero_weights_503_with_reasons() {
    let stable = Backend::start("stable").await;
    let yaml = config(&[("stable", stable.addr, 0)], "", "").replace("  - name: web\n", "  - name: web\n    hosts: [\"app.example.com\", \"*.example.org\"]\n    pathPrefix: /app\n");
    let weir = Weir::start(&yaml).await;
    let c = Client::http1();
    let a = weir.authority();
    let o = c
        .get(&a, "/app/x", &[("host", "other.test")])
        .await
        .unwrap();
    assert_eq!((o.status, o.weir_error.as_deref()), (404, Some("no_route")));
    let o = c
        .get(&a, "/elsewhere", &[("host", "app.example.com")])
        .await
        .unwrap();
    assert_eq!(o.status, 404);
    let o = c
        .get(&a, "/app/x", &[("host", "APP.example.com:8080")])
        .await
        .unwrap();
    assert_eq!(
        (o.status, o.weir_error.as_deref()),
        (503, Some("zero_weight"))
    );
    let o = c
        .get(&a, "/app", &[("host", "a.b.example.org")])
        .await
        .unwrap();
    assert_eq!(o.status, 503);
    assert_eq!(stable.hits(), 0);
    assert_eq!(
        weir.metric("weir_upstream_errors_total{route=\"\",backend=\"\",reason=\"no_route\"}")
            .await,
        2.0
    );
    assert_eq!(
        weir.metric(
            "weir_upstream_errors_total{route=\"web\",backend=\"\",reason=\"zero_weight\"}"
        )
        .await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_specific_host_then_the_longest_prefix_wins() {
    let any = Backend::start("any").await;
    let api = Backend::start("api").await;
    let wild = Backend::start("wild").await;
    let deep = Backend::start("deep").await;
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  any: {{endpoints: [\"{}\"]}}\n  api: {{endpoints: [\"{}\"]}}\n  wild: {{endpoints: [\"{}\"]}}\n  deep: {{endpoints: [\"{}\"]}}\nroutes:\n  - name: any\n    backends: [{{service: any, weight: 1}}]\n  - name: wild\n    hosts: [\"*.example.com\"]\n    backends: [{{service: wild, weight: 1}}]\n  - name: api\n    hosts: [\"api.example.com\"]\n    backends: [{{service: api, weight: 1}}]\n  - name: deep\n    pathPrefix: /deep\n    backends: [{{service: deep, weight: 1}}]\n",
        any.addr, api.addr, wild.addr, deep.addr
    );
    let weir = Weir::start(&yaml).await;
    let c = Client::http1();
    let a = weir.authority();
    let to = async |host: &str, path: &str| {
        c.get(&a, path, &[("host", host)])
            .await
            .unwrap()
            .backend
            .unwrap()
    };
    assert_eq!(to("api.example.com", "/").await, "api");
    assert_eq!(to("API.example.com:443", "/x").await, "api");
    assert_eq!(to("www.example.com", "/").await, "wild");
    assert_eq!(to("other.test", "/").await, "any");
    assert_eq!(to("other.test", "/deep/x").await, "deep");
    // A specific host beats a longer prefix on the catch-all host.
    assert_eq!(to("api.example.com", "/deep").await, "api");
}

/// The `x-forwarded-*` headers weir adds reach HTTP/1.1 and h2c upstreams and mirrored
/// copies, from clients of weir's own HTTP/1.1 server and of hyper's h2c server: the
/// client's `x-forwarded-for` lines joined into one with the client's address last, and
/// the client's `x-forwarded-proto` replaced by the scheme it used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_reach_every_kind_of_upstream_and_the_mirror() {
    let h1 = Backend::start("h1").await;
    let h2 = Backend::start("h2").await;
    let shadow = Backend::start("shadow").await;
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  \
         h1: {{endpoints: [\"{}\"]}}\n  h2: {{endpoints: [\"{}\"], protocol: h2c}}\n  \
         shadow: {{endpoints: [\"{}\"]}}\nroutes:\n  - name: h1\n    \
         backends: [{{service: h1, weight: 1}}]\n    mirrors:\n      - name: copy\n        \
         backend: shadow\n        percentage: 100\n  - name: h2\n    pathPrefix: /h2\n    \
         backends: [{{service: h2, weight: 1}}]\n",
        h1.addr, h2.addr, shadow.addr
    );
    let weir = Weir::start(&yaml).await;
    let a = weir.authority();
    let seen = |b: &Backend| {
        let h = b.last_headers.lock();
        let all = |n: &str| {
            h.get_all(n)
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        (all("x-forwarded-for"), all("x-forwarded-proto"))
    };
    let mine = (vec!["127.0.0.1".to_string()], vec!["http".to_string()]);
    let chained = (
        vec!["192.0.2.1, 198.51.100.7, 127.0.0.1".to_string()],
        vec!["http".to_string()],
    );
    for (client, kind) in [(Client::http1(), "HTTP/1.1"), (Client::h2c(), "h2c")] {
        for (path, backend) in [("/", &h1), ("/h2/x", &h2)] {
            let o = client.get(&a, path, &[]).await.unwrap();
            assert_eq!(o.backend.as_deref(), Some(backend.name.as_str()));
            assert_eq!(seen(backend), mine, "{kind} client to {path}");
            // The client's own: a list and a claimed scheme.
            let req = hyper::Request::get(format!("http://{a}{path}"))
                .header("x-forwarded-for", "192.0.2.1")
                .header("x-forwarded-for", "198.51.100.7")
                .header("x-forwarded-proto", "https")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            assert_eq!(client.request(req).await.unwrap().status, 200);
            assert_eq!(seen(backend), chained, "{kind} client to {path}, chained");
        }
    }
    // The mirror's copy of the last request to route h1 carried the same headers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while shadow.hits() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(shadow.hits(), 4, "every request to route h1 is mirrored");
    assert_eq!(seen(&shadow), chained, "the mirrored copy");
}
