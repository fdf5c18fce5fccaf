//! The analysis providers against real servers on loopback: a small hyper server for the
//! `web` provider, a real Prometheus (the Debian package) for `prometheus`, and a real
//! proxy's route table for the built-in provider's `WindowSource`.

mod support_prometheus;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use weir_config::argo::{
    Header, MetricProvider, PrometheusMetric, WebMetric, WeirMetric, WeirMetricKind,
};
use weir_control::analysis::{MeasurementResult, MetricValue};
use weir_control::providers::{measure, HttpClient, ProviderContext, WindowSource};
use weir_proxy::Proxy;

/// A context whose built-in source is an empty proxy: these tests use the HTTP providers.
fn context() -> ProviderContext {
    context_over(proxy())
}

fn context_over(proxy: Arc<Proxy>) -> ProviderContext {
    ProviderContext {
        roles: BTreeMap::from([
            ("canary".to_owned(), "web-canary".to_owned()),
            ("stable".to_owned(), "web-stable".to_owned()),
        ]),
        windows: proxy,
        http: HttpClient::new(),
        now: Instant::now(),
    }
}

fn proxy() -> Arc<Proxy> {
    let text = "\
listeners:
  - address: 127.0.0.1:0
services:
  web-stable:
    endpoints: [\"127.0.0.1:1\"]
  web-canary:
    endpoints: [\"127.0.0.1:2\"]
routes:
  - name: web
    hosts: [\"*\"]
    pathPrefix: /
    backends:
      - service: web-stable
        weight: 90
      - service: web-canary
        weight: 10
";
    let config = weir_config::parse_proxy_config("weir.yaml", text, 1).expect("valid config");
    Proxy::new(config).expect("proxy builds")
}

/// Serves `handler` on 127.0.0.1:0 (HTTP/1.1) until the test's runtime ends.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let answer = handler(req);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(body.into()))
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// web

/// A metrics API: `/health` answers JSON built from the request (method, a header, the
/// body and its content type), `/text` plain text, `/fail` a 503, `/slow` after 3 s.
async fn web_api(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (auth, content_type) = (header("authorization"), header("content-type"));
    let body = req.into_body().collect().await.unwrap().to_bytes();
    match path.as_str() {
        "/health" => {
            let received: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
            let json = json!({
                "data": {"ok": true, "ratio": 0.995, "auth": auth},
                "method": method,
                "contentType": content_type,
                "received": received,
            });
            answer(StatusCode::OK, json.to_string())
        }
        "/text" => answer(StatusCode::OK, "all good"),
        "/fail" => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream down\nplease retry later",
        ),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            answer(StatusCode::OK, "{}")
        }
        _ => answer(StatusCode::NOT_FOUND, "no such page"),
    }
}

fn web(url: String) -> MetricProvider {
    MetricProvider {
        web: Some(WebMetric {
            url,
            ..WebMetric::default()
        }),
        ..MetricProvider::default()
    }
}

fn web_mut(p: &mut MetricProvider) -> &mut WebMetric {
    p.web.as_mut().unwrap()
}

fn value(result: MeasurementResult) -> MetricValue {
    match result {
        MeasurementResult::Value(v) => v,
        other => panic!("expected a value, got {other:?}"),
    }
}

fn error(result: MeasurementResult) -> String {
    match result {
        MeasurementResult::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn web_get_sends_headers_and_extracts_the_json_path() {
    let addr = serve(web_api).await;
    let ctx = context();
    let mut p = web(format!("http://{addr}/health"));
    web_mut(&mut p).headers = vec![Header {
        key: "Authorization".to_owned(),
        value: "Bearer t0ken".to_owned(),
    }];
    web_mut(&mut p).json_path = Some("{$.data.auth}".to_owned());
    assert_eq!(
        value(measure(&p, &ctx).await),
        MetricValue::String("Bearer t0ken".to_owned())
    );
    web_mut(&mut p).json_path = Some("{$.data.ok}".to_owned());
    assert_eq!(value(measure(&p, &ctx).await), MetricValue::Bool(true));
    web_mut(&mut p).json_path = Some("{$.data.ratio}".to_owned());
    assert_eq!(value(measure(&p, &ctx).await), MetricValue::Float(0.995));
    web_mut(&mut p).json_path = Some("{$.data.missing}".to_owned());
    let e = error(measure(&p, &ctx).await);
    assert!(
        e.starts_with("Could not find JSONPath in body: {$.data.missing}"),
        "{e}"
    );
}

#[tokio::test]
async fn web_without_json_path_gives_the_whole_body_and_posts_json_bodies() {
    let addr = serve(web_api).await;
    let ctx = context();
    let mut p = web(format!("http://{addr}/health"));
    web_mut(&mut p).method = Some("POST".to_owned());
    web_mut(&mut p).json_body = Some(json!({"canary": "web-canary", "window": 60}));
    let MetricValue::Object(body) = value(measure(&p, &ctx).await) else {
        panic!("expected the whole JSON body");
    };
    assert_eq!(body["method"], MetricValue::String("POST".to_owned()));
    assert_eq!(
        body["contentType"],
        MetricValue::String("application/json".to_owned())
    );
    assert_eq!(
        body["received"],
        MetricValue::from(json!({"canary": "web-canary", "window": 60}))
    );

    // A text body with PUT, and an answer that is not JSON is its text.
    web_mut(&mut p).json_body = None;
    web_mut(&mut p).method = Some("PUT".to_owned());
    web_mut(&mut p).body = Some("plain words".to_owned());
    web_mut(&mut p).json_path = Some("{$.received}".to_owned());
    assert_eq!(
        value(measure(&p, &ctx).await),
        MetricValue::String("plain words".to_owned())
    );
    let text = web(format!("http://{addr}/text"));
    assert_eq!(
        value(measure(&text, &ctx).await),
        MetricValue::String("all good".to_owned())
    );
}

#[tokio::test]
async fn web_non_2xx_is_an_error_with_status_and_body_excerpt() {
    let addr = serve(web_api).await;
    let e = error(measure(&web(format!("http://{addr}/fail")), &context()).await);
    assert_eq!(
        e,
        "received non 2xx response code: 503: upstream down please retry later"
    );
}

#[tokio::test]
async fn web_times_out_after_timeout_seconds() {
    let addr = serve(web_api).await;
    let mut p = web(format!("http://{addr}/slow"));
    web_mut(&mut p).timeout_seconds = Some(1);
    let started = Instant::now();
    let e = error(measure(&p, &context()).await);
    assert!(e.ends_with("no answer within 1s"), "{e}");
    assert!(started.elapsed() < Duration::from_millis(2500));
}

#[tokio::test]
async fn web_refuses_bodies_argo_refuses() {
    let ctx = context();
    let mut p = web("http://127.0.0.1:9/health".to_owned());
    web_mut(&mut p).body = Some("x".to_owned());
    assert_eq!(
        error(measure(&p, &ctx).await),
        "Body/JSONBody can only be used with POST or PUT WebMetric Method types"
    );
    web_mut(&mut p).method = Some("POST".to_owned());
    web_mut(&mut p).json_body = Some(json!({}));
    assert_eq!(
        error(measure(&p, &ctx).await),
        "use either Body or JSONBody; both cannot exists for WebMetric payload"
    );
}

#[tokio::test]
async fn web_connection_refused_says_so() {
    // Bind then drop: a loopback port nobody listens on.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = error(measure(&web(format!("http://{addr}/")), &context()).await);
    assert!(e.contains("onnection refused"), "{e}");
}

// ---------------------------------------------------------------------------------------
// weir, over a real proxy's route table

#[tokio::test]
async fn weir_reads_the_proxys_backend_stats_and_names_valid_routes_and_backends() {
    let proxy = proxy();
    let now = Instant::now();
    {
        let table = proxy.table();
        let route = table.route("web").unwrap();
        let canary = route.backends.iter().find(|b| &*b.name == "web-canary");
        let stats = &canary.unwrap().stats;
        for i in 0..50 {
            stats.record(
                now,
                if i < 5 { 500 } else { 200 },
                i < 5,
                Duration::from_millis(3),
            );
        }
    }
    let mut ctx = context_over(proxy.clone());
    // A whole window after the proxy's split took effect: short samples are Inconclusive.
    ctx.now = now + Duration::from_secs(60);
    let weir = |backend: &str| MetricProvider {
        weir: Some(WeirMetric {
            route: "web".to_owned(),
            backend: backend.to_owned(),
            metric: WeirMetricKind::SuccessRate,
            quantile: None,
            window: None,
            min_requests: None,
            baseline: None,
        }),
        ..MetricProvider::default()
    };
    assert_eq!(
        value(measure(&weir("canary"), &ctx).await),
        MetricValue::Float(0.9)
    );
    assert_eq!(
        measure(&weir("stable"), &ctx).await,
        MeasurementResult::Inconclusive(
            "no requests to web-stable in the last 1m; minRequests is 20".to_owned()
        )
    );
    assert_eq!(
        error(measure(&weir("web-old"), &ctx).await),
        r#"route "web" has no backend "web-old"; its backends are "web-stable", "web-canary""#
    );
    let missing = proxy.window("api", "web-canary", now, Duration::from_secs(60));
    assert_eq!(
        missing.err().unwrap(),
        r#"no route named "api"; routes are "web""#
    );
}

#[tokio::test]
async fn weir_measures_only_what_the_proxy_served_since_the_routes_split_last_changed() {
    let proxy = proxy();
    let canary = |p: &Proxy| {
        let table = p.table();
        let route = table.route("web").unwrap();
        route.backends[1].stats.clone()
    };
    // 100 good canary answers at 10%, then the change to 20%, then 30 failures.
    for _ in 0..100 {
        canary(&proxy).record(Instant::now(), 200, false, Duration::from_millis(1));
    }
    let weights = std::collections::HashMap::from([
        ("web-stable".to_owned(), 80),
        ("web-canary".to_owned(), 20),
    ]);
    proxy.set_weights("web", &weights).unwrap();
    for _ in 0..30 {
        canary(&proxy).record(Instant::now(), 500, true, Duration::from_millis(1));
    }
    let success = MetricProvider {
        weir: Some(WeirMetric {
            route: "web".to_owned(),
            backend: "canary".to_owned(),
            metric: WeirMetricKind::SuccessRate,
            quantile: None,
            window: Some("1m".into()),
            min_requests: Some(20),
            baseline: None,
        }),
        ..MetricProvider::default()
    };
    assert_eq!(
        value(measure(&success, &context_over(proxy.clone())).await),
        MetricValue::Float(0.0),
        "judged on the 30 answers since the change alone"
    );
    // The same weights again are not a change: nothing is cut (a cut would leave nothing
    // to measure, and the metric would wait).
    proxy.set_weights("web", &weights).unwrap();
    assert_eq!(
        value(measure(&success, &context_over(proxy.clone())).await),
        MetricValue::Float(0.0)
    );
    // The plain window the admin API serves still holds all 130.
    let all = canary(&proxy).window(Instant::now(), Duration::from_secs(60));
    assert_eq!((all.requests, all.failures), (130, 30));

    // Blue-green's switch is a new version behind the same service (its endpoints change):
    // what the old version answered is left out as well.
    proxy
        .set_service_endpoints("web-canary", vec!["127.0.0.1:3".to_owned()])
        .unwrap();
    assert!(
        matches!(
            measure(&success, &context_over(proxy.clone())).await,
            MeasurementResult::Wait { .. }
        ),
        "nothing since the switch yet"
    );
    // So is an experiment's backends joining the route.
    for _ in 0..25 {
        canary(&proxy).record(Instant::now(), 200, false, Duration::from_millis(1));
    }
    assert_eq!(
        value(measure(&success, &context_over(proxy.clone())).await),
        MetricValue::Float(1.0)
    );
    proxy
        .set_extra_backends(
            "web",
            "exp",
            vec![weir_proxy::ExtraBackend {
                name: "exp-canary".to_owned(),
                endpoints: vec!["127.0.0.1:4".to_owned()],
                weight: 5,
            }],
        )
        .unwrap();
    assert!(matches!(
        measure(&success, &context_over(proxy.clone())).await,
        MeasurementResult::Wait { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// prometheus, against a real server

fn prometheus(address: &str, query: &str) -> MetricProvider {
    MetricProvider {
        prometheus: Some(PrometheusMetric {
            address: address.to_owned(),
            query: query.to_owned(),
            ..PrometheusMetric::default()
        }),
        ..MetricProvider::default()
    }
}

async fn demo_metrics(_req: Request<Incoming>) -> Response<Full<Bytes>> {
    answer(
        StatusCode::OK,
        "# TYPE demo_requests_total counter\n\
         demo_requests_total{code=\"200\"} 42\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_answers_as_argos_provider_does() {
    let Some(binary) = support_prometheus::binary().await else {
        return;
    };
    let target = serve(demo_metrics).await;
    let prom = support_prometheus::Prometheus::start(&binary, &[target])
        .await
        .unwrap();
    prom.wait_for_samples("demo_requests_total", Duration::from_secs(60))
        .await
        .unwrap();
    let ctx = context();

    // A vector is the list of its values, even with one series.
    let sum = prometheus(&prom.url, "sum(demo_requests_total)");
    assert_eq!(
        value(measure(&sum, &ctx).await),
        MetricValue::Array(vec![MetricValue::Float(42.0)])
    );
    // A scalar is a number.
    let scalar = prometheus(&prom.url, "scalar(sum(demo_requests_total))");
    assert_eq!(
        value(measure(&scalar, &ctx).await),
        MetricValue::Float(42.0)
    );
    // No series: the empty list, so `len(result) > 0` can tell.
    let none = prometheus(&prom.url, "demo_requests_total{code=\"500\"}");
    assert_eq!(
        value(measure(&none, &ctx).await),
        MetricValue::Array(vec![])
    );
    // NaN survives as a float for isNaN(result).
    let nan = prometheus(&prom.url, "scalar(sum(demo_requests_total)) * NaN");
    let MetricValue::Float(f) = value(measure(&nan, &ctx).await) else {
        panic!("expected a float");
    };
    assert!(f.is_nan());
    // A range vector is flattened, as Argo's matrix handling.
    let range = prometheus(&prom.url, "demo_requests_total[10s]");
    let MetricValue::Array(points) = value(measure(&range, &ctx).await) else {
        panic!("expected a list");
    };
    assert!(!points.is_empty());
    assert!(points.iter().all(|p| *p == MetricValue::Float(42.0)));
    // A trailing slash or path prefix in the address is kept.
    let slash = prometheus(&format!("{}/", prom.url), "sum(demo_requests_total)");
    assert!(matches!(
        measure(&slash, &ctx).await,
        MeasurementResult::Value(_)
    ));

    // A bad query: Prometheus' own error text.
    let bad = prometheus(&prom.url, "sum(demo_requests_total");
    let e = error(measure(&bad, &ctx).await);
    assert!(e.starts_with("bad_data: "), "{e}");
    assert!(e.contains("parse error"), "{e}");
    // A string result is not a metric, as in Argo.
    let string = prometheus(&prom.url, "\"text\"");
    let e = error(measure(&string, &ctx).await);
    assert!(e.starts_with("Prometheus metric type not supported"), "{e}");
}

#[tokio::test]
async fn prometheus_unreachable_or_misconfigured_is_an_error() {
    let ctx = context();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = prometheus(&format!("http://{addr}"), "up");
    let e = error(measure(&down, &ctx).await);
    assert!(e.starts_with(&format!(
        "prometheus query http://{addr}/api/v1/query?query=up: "
    )));
    assert!(e.contains("onnection refused"), "{e}");

    let not_url = prometheus("prometheus:9090", "up");
    let e = error(measure(&not_url, &ctx).await);
    assert!(e.contains("must be an http:// or https:// URL"), "{e}");

    let mut negative = prometheus("http://127.0.0.1:9090", "up");
    negative.prometheus.as_mut().unwrap().timeout = Some(-1);
    assert_eq!(
        error(measure(&negative, &ctx).await),
        "prometheus timeout must be positive seconds, not -1"
    );
}

// ---------------------------------------------------------------------------------------
// TLS: verification against trusted roots, and `insecure: true`

/// An HTTPS server for `localhost` with a fresh self-signed certificate, answering
/// [`web_api`]; returns its address and the certificate to trust.
async fn serve_tls() -> (SocketAddr, rustls::pki_types::CertificateDer<'static>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(|req| async move {
                    Ok::<_, Infallible>(web_api(req).await)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, cert)
}

#[tokio::test]
async fn https_is_verified_unless_the_metric_says_insecure() {
    let (addr, cert) = serve_tls().await;
    let url = format!("https://localhost:{}/health", addr.port());
    let mut p = web(url);
    web_mut(&mut p).json_path = Some("{$.data.ok}".to_owned());

    // The system roots do not know a fresh self-signed certificate.
    let ctx = context();
    let e = error(measure(&p, &ctx).await);
    assert!(e.contains("invalid peer certificate"), "{e}");
    // insecure: true skips verification, as Go's InsecureSkipVerify.
    web_mut(&mut p).insecure = true;
    assert_eq!(value(measure(&p, &ctx).await), MetricValue::Bool(true));

    // Trusting the certificate verifies it (name included).
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut trusting = context();
    trusting.http = HttpClient::with_roots(roots);
    web_mut(&mut p).insecure = false;
    assert_eq!(value(measure(&p, &trusting).await), MetricValue::Bool(true));
}
