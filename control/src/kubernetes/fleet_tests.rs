//! The merge of several proxies' `/stats` answers, and finding the proxies in
//! EndpointSlices, without a network.

use super::*;
use hdrhistogram::Histogram;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use serde_json::json;

/// A histogram as the proxy records them (microseconds, 1 us to an hour, 2 digits).
fn histogram(micros: impl IntoIterator<Item = u64>) -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 2).unwrap();
    for v in micros {
        h.record(v).unwrap();
    }
    h
}

/// One backend of a `/stats?format=hdr&since=split` answer.
fn backend(name: &str, failures: u64, covered: f64, latency: &Histogram<u64>) -> serde_json::Value {
    json!({
        "backend": name,
        "requests": latency.len(),
        "failures": failures,
        "successRate": null,
        "latency": {},
        "coveredSeconds": covered,
        "histogram": weir_proxy::hdr::encode(latency),
    })
}

/// A whole answer for route `web`, as one proxy writes it.
fn answer(split_age: f64, backends: &[serde_json::Value]) -> Bytes {
    Bytes::from(
        json!({
            "route": "web",
            "window": "1m",
            "generation": 3,
            "splitAgeSeconds": split_age,
            "backends": backends,
        })
        .to_string(),
    )
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 9901))
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn two_proxies_merge_to_the_sum_of_their_histograms() {
    // Proxy 1's canary is fast (1-2 ms), proxy 2's slow (20-40 ms), with fewer requests.
    let fast = histogram((0..900).map(|i| 1_000 + i));
    let slow = histogram((0..100).map(|i| 20_000 + 200 * i));
    let stable = histogram([5_000; 50]);
    let answers = [
        (
            addr(1),
            answer(
                40.0,
                &[
                    backend("canary", 3, 30.0, &fast),
                    backend("stable", 0, 30.0, &stable),
                ],
            ),
        ),
        (
            addr(2),
            answer(
                12.5,
                &[
                    backend("stable", 1, 12.5, &stable),
                    backend("canary", 2, 12.5, &slow),
                ],
            ),
        ),
    ];
    let fleet = merge("web", MINUTE, &answers).unwrap();
    assert_eq!(fleet.proxies(), 2);
    let canary = fleet.sample("canary").unwrap();
    assert_eq!((canary.requests, canary.failures), (1000, 5));
    let mut sum = fast.clone();
    sum.add(&slow).unwrap();
    assert_eq!(canary.latency, sum);
    for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
        assert_eq!(
            canary.latency.value_at_quantile(q),
            sum.value_at_quantile(q),
            "q {q}"
        );
    }
    // The mean of the two p99s is far from the p99 of all the requests: averaging
    // per-proxy quantiles would misjudge the canary.
    let p99 = canary.latency.value_at_quantile(0.99) as f64;
    let mean_of_p99s = (fast.value_at_quantile(0.99) + slow.value_at_quantile(0.99)) as f64 / 2.0;
    assert!(
        (p99 - mean_of_p99s).abs() > 0.2 * p99,
        "p99 {p99} against the mean of p99s {mean_of_p99s}"
    );
    // The shortest coverage and the youngest split: the second proxy's.
    assert_eq!(canary.covered, Duration::from_secs_f64(12.5));
    assert_eq!(canary.since_split, Duration::from_secs_f64(12.5));
    let stable_sample = fleet.sample("stable").unwrap();
    assert_eq!((stable_sample.requests, stable_sample.failures), (100, 1));
    assert_eq!(stable_sample.since_split, Duration::from_secs_f64(12.5));
}

#[test]
fn one_bad_answer_fails_the_merge_naming_the_proxy() {
    let h = histogram([1_000]);
    let good = (addr(1), answer(5.0, &[backend("canary", 0, 5.0, &h)]));
    let cases: [(Bytes, &str); 5] = [
        (Bytes::from_static(b"<html>"), "not /stats JSON"),
        (
            Bytes::from_static(br#"{"route": "web", "splitAgeSeconds": 1}"#),
            "not /stats JSON",
        ),
        (
            answer(
                5.0,
                &[backend("canary", 0, 5.0, &h), backend("extra", 0, 5.0, &h)],
            ),
            "configurations differ",
        ),
        (
            {
                let mut b = backend("canary", 0, 5.0, &h);
                b.as_object_mut().unwrap().remove("coveredSeconds");
                answer(5.0, &[b])
            },
            "older than this controller",
        ),
        (
            {
                let mut b = backend("canary", 0, 5.0, &h);
                b["histogram"] = json!("not base64!");
                answer(5.0, &[b])
            },
            "histogram is not base64",
        ),
    ];
    for (body, why) in cases {
        let err = merge("web", MINUTE, &[good.clone(), (addr(2), body)])
            .err()
            .unwrap();
        assert!(
            err.starts_with("proxy 10.0.0.2:9901: ") && err.contains(why),
            "{err}"
        );
    }
    let other_route = Bytes::from(
        String::from_utf8(answer(5.0, &[]).to_vec())
            .unwrap()
            .replace("\"web\"", "\"api\""),
    );
    let err = merge("web", MINUTE, &[(addr(3), other_route)])
        .err()
        .unwrap();
    assert!(
        err.contains("10.0.0.3:9901") && err.contains("\"api\""),
        "{err}"
    );
}

#[test]
fn the_merged_windows_answer_the_provider_like_the_in_process_source() {
    let h = histogram([1_000, 2_000]);
    let answers = [(
        addr(1),
        answer(
            5.0,
            &[backend("stable", 0, 5.0, &h), backend("canary", 0, 5.0, &h)],
        ),
    )];
    let fleet = merge("web", MINUTE, &answers).unwrap();
    let now = Instant::now();
    assert_eq!(
        fleet.window("web", "canary", now, MINUTE).unwrap().requests,
        2
    );
    let err = fleet.window("api", "canary", now, MINUTE).err().unwrap();
    assert_eq!(err, "no route named \"api\"; routes are \"web\"");
    let err = fleet.window("web", "beta", now, MINUTE).err().unwrap();
    assert_eq!(
        err,
        "route \"web\" has no backend \"beta\"; its backends are \"canary\", \"stable\""
    );
    let err = fleet
        .window("web", "canary", now, Duration::from_secs(30))
        .err()
        .unwrap();
    assert!(err.contains("over 60s, not 30s"), "{err}");
}

fn endpoint(ip: &str, ready: Option<bool>) -> Endpoint {
    Endpoint {
        addresses: vec![ip.to_owned()],
        conditions: Some(EndpointConditions {
            ready,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn slice(name: &str, endpoints: Vec<Endpoint>, ports: &[(&str, i32)]) -> EndpointSlice {
    EndpointSlice {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        address_type: "IPv4".to_owned(),
        endpoints,
        ports: Some(
            ports
                .iter()
                .map(|(n, p)| EndpointPort {
                    name: Some(n.to_string()),
                    port: Some(*p),
                    ..Default::default()
                })
                .collect(),
        ),
    }
}

#[test]
fn addresses_are_the_ready_endpoints_at_the_admin_port_each_once() {
    let admin = AdminPort::Named("admin".into());
    let slices = [
        slice(
            "a",
            vec![
                endpoint("10.0.0.1", Some(true)),
                endpoint("10.0.0.2", None),
                endpoint("10.0.0.3", Some(false)),
            ],
            &[("http", 8080), ("admin", 9901)],
        ),
        // The same endpoint in a second slice, as while the controller moves it.
        slice(
            "b",
            vec![endpoint("10.0.0.2", Some(true))],
            &[("admin", 9901)],
        ),
        // A slice with nothing ready needs no port.
        slice("c", vec![endpoint("10.0.0.9", Some(false))], &[]),
    ];
    assert_eq!(
        admin_addresses(&slices, "default/proxy", &admin).unwrap(),
        vec![addr(1), addr(2)]
    );
    assert_eq!(
        admin_addresses(&slices, "default/proxy", &AdminPort::Number(7000)).unwrap(),
        vec![
            SocketAddr::from(([10, 0, 0, 1], 7000)),
            SocketAddr::from(([10, 0, 0, 2], 7000))
        ]
    );
}

#[test]
fn missing_slices_endpoints_or_port_name_the_service_and_what_is_missing() {
    let admin = AdminPort::Named("admin".into());
    let err = admin_addresses(&[], "default/proxy", &admin).unwrap_err();
    assert!(
        err.contains("Service default/proxy has no EndpointSlices"),
        "{err}"
    );
    let not_ready = [slice(
        "a",
        vec![endpoint("10.0.0.1", Some(false))],
        &[("admin", 1)],
    )];
    let err = admin_addresses(&not_ready, "default/proxy", &admin).unwrap_err();
    assert!(
        err.contains("Service default/proxy has no ready endpoint"),
        "{err}"
    );
    let no_port = [slice(
        "a",
        vec![endpoint("10.0.0.1", None)],
        &[("http", 80)],
    )];
    let err = admin_addresses(&no_port, "default/proxy", &admin).unwrap_err();
    assert_eq!(
        err,
        "Service default/proxy: EndpointSlice a has no port named \"admin\"; its ports are \"http\""
    );
}

#[test]
fn the_stats_path_asks_for_histograms_since_the_split() {
    assert_eq!(
        stats_path("web", MINUTE),
        "/stats?route=web&window=60s&format=hdr&since=split"
    );
    assert_eq!(
        stats_path("web", Duration::from_millis(1500)),
        "/stats?route=web&window=1500ms&format=hdr&since=split"
    );
    assert_eq!(
        said(br#"{"error": "no route named \"x\""}"#),
        "no route named \"x\""
    );
    assert_eq!(said(b"\n bad  gateway \n"), "bad gateway");
}

#[test]
fn the_split_served_is_the_one_every_replica_serves() {
    use serde_json::json;
    let replica = |canary: i64, stable: i64| {
        json!({"generation": 4, "routes": [
            {"name": "default/web-stable:web.test/", "backends": [
                {"service": "default/web-stable:80", "weight": stable},
                {"service": "default/web-canary:http", "weight": canary}]},
            {"name": "default/other:other.test/", "backends": [
                {"service": "default/web-canary-not:80", "weight": 7}]},
        ]})
    };
    let split = |answers: &[serde_json::Value]| {
        served_split(
            answers,
            "default/web-stable",
            "default/web-canary",
            "default/web-stable",
        )
    };
    assert_eq!(
        split(&[replica(20, 80), replica(20, 80)]),
        Some(Some((20, 80)))
    );
    // One replica still on the old split: not served yet.
    assert_eq!(split(&[replica(20, 80), replica(0, 100)]), Some(None));
    // A replica without the route (it has not read the Ingress yet): not served yet.
    let empty = json!({"generation": 1, "routes": []});
    assert_eq!(split(&[replica(20, 80), empty.clone()]), Some(None));
    // No replica serves this Ingress: weir's proxies are not its ingress.
    assert_eq!(split(&[empty]), None);
    // Only the stable backend (no canary Ingress served yet): canary 0.
    let stable_only = json!({"routes": [{"name": "default/web-stable:web.test/",
        "backends": [{"service": "default/web-stable:80", "weight": 100}]}]});
    assert_eq!(split(&[stable_only]), Some(Some((0, 100))));
}

#[test]
fn the_route_served_is_the_split_not_a_header_route() {
    let answer = json!({"generation": 4, "routes": [
        {"name": "default/other:web.test/", "backends": [
            {"service": "default/web-stable:80", "weight": 1}]},
        // A managed header route: only the canary.
        {"name": "default/web:0.0:/", "backends": [
            {"service": "default/web-canary:80", "weight": 1}]},
        {"name": "default/web:0.1:/", "backends": [
            {"service": "default/web-stable:80", "weight": 80},
            {"service": "default/web-canary:80", "weight": 20}]},
    ]});
    let objects = ["default/web".to_owned()];
    let route = served_route(
        &answer,
        &objects,
        "default/web-canary",
        "default/web-stable",
    );
    assert_eq!(
        route,
        Some(ServedRoute {
            name: "default/web:0.1:/".to_owned(),
            stable: ("default/web-stable:80".to_owned(), 80),
            canary: Some(("default/web-canary:80".to_owned(), 20)),
        })
    );
    // Before the canary is served: the stable backend alone.
    let stable_only = json!({"routes": [{"name": "default/web:0.0:/", "backends": [
        {"service": "default/web-stable:80", "weight": 100}]}]});
    let route = served_route(
        &stable_only,
        &objects,
        "default/web-canary",
        "default/web-stable",
    );
    assert_eq!(route.map(|r| (r.stable.1, r.canary)), Some((100, None)));
    // Another object's routes, or a Service of the same prefix, are not the Rollout's.
    let others = ["default/we".to_owned()];
    assert_eq!(
        served_route(&answer, &others, "default/web-canary", "default/web-stable"),
        None
    );
    assert_eq!(
        served_route(&answer, &objects, "default/web-canary", "default/web-stab"),
        None
    );
}

#[test]
fn a_service_name_finds_its_kubernetes_backend() {
    let names = [
        "default/web-canary:80",
        "default/web-stable:http",
        "other/web-stable:80",
        "plain",
    ];
    let find = |wanted| super::resolve_backend(names.iter().copied(), wanted);
    assert_eq!(find("plain"), Ok("plain"));
    assert_eq!(find("web-canary"), Ok("default/web-canary:80"));
    assert_eq!(find("default/web-stable"), Ok("default/web-stable:http"));
    assert_eq!(find("other/web-stable"), Ok("other/web-stable:80"));
    assert!(find("web-stable").unwrap_err().contains("could be any of"));
    assert_eq!(
        find("missing"),
        Ok("missing"),
        "the caller says it is missing"
    );
}
