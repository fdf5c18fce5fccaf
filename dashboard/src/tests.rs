use super::*;
use http_body_util::BodyExt;
use parking_lot::Mutex;

/// A source with one canary Rollout `default/web` paused at step 1 of 3.
#[derive(Default)]
struct Fake {
    acted: Mutex<Vec<(String, String, Action)>>,
    /// Serve web as Healthy (at rest) instead of Paused.
    healthy: std::sync::atomic::AtomicBool,
    sampled: std::sync::atomic::AtomicUsize,
}

fn web() -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2026-12-05T10:00:00Z",
                     "annotations": {"rollout.argoproj.io/revision": "2"}},
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]}}},
        "status": {"phase": "Paused", "currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}],
                   "canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}, "verified": true}}}})
}

impl Source for Fake {
    fn rollouts(&self) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async {
            let mut r = web();
            if self.healthy.load(std::sync::atomic::Ordering::Relaxed) {
                r["status"]["phase"] = json!("Healthy");
            }
            Ok(vec![r])
        })
    }
    fn experiments(&self) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async { Ok(vec![]) })
    }
    fn analysis_runs<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async {
            Ok(vec![
                json!({"metadata": {"name": "web-run"}, "status": {"metricResults": [
                {"name": "success-rate", "measurements": [
                    {"phase": "Successful", "value": "0.99", "finishedAt": "2099-01-01T00:00:00Z"},
                    {"phase": "Failed", "value": "0.5", "finishedAt": "2000-01-01T00:00:00Z"},
                    {"phase": "Running"}]}]}}),
            ])
        })
    }
    fn events<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async { Ok(vec![]) })
    }
    fn sample<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Option<Sample>> {
        Box::pin(async {
            self.sampled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(Sample::default())
        })
    }
    fn act<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        action: Action,
    ) -> BoxFuture<'a, Result<(), (StatusCode, String)>> {
        Box::pin(async move {
            self.acted
                .lock()
                .push((ns.to_owned(), name.to_owned(), action));
            Ok(())
        })
    }
}

fn dashboard() -> (Arc<Fake>, Dashboard) {
    let fake = Arc::new(Fake::default());
    let d = Dashboard {
        source: fake.clone(),
        history: History::new(HISTORY),
        mode: "standalone",
        token_required: false,
        viewed: Default::default(),
    };
    (fake, d)
}

async fn call(
    d: &Dashboard,
    method: Method,
    path: &str,
    headers: &[(&'static str, &str)],
    authorized: bool,
) -> (StatusCode, Value) {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    let resp = d
        .handle(&method, path, &h, authorized)
        .await
        .expect("the dashboard's path");
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[test]
fn the_summary_reads_argos_status() {
    let s = summary(&web());
    assert_eq!(s["setWeight"], 20);
    assert_eq!(s["actualWeight"], 20);
    assert_eq!(s["weightsVerified"], true);
    assert_eq!(s["stepIndex"], 1);
    assert_eq!(s["stepCount"], 3);
    assert_eq!(s["revision"], "2");
    assert_eq!(s["paused"], true);
    let mut done = web();
    done["status"]["currentStepIndex"] = json!(3);
    assert_eq!(summary(&done)["setWeight"], 100, "past the last step");
    let mut aborted = web();
    aborted["status"]["abort"] = json!(true);
    assert_eq!(summary(&aborted)["setWeight"], 0);
    let mut first = web();
    first["status"]["currentStepIndex"] = json!(0);
    assert_eq!(
        summary(&first)["setWeight"],
        20,
        "the current step's own setWeight counts"
    );
    let bg = json!({"metadata": {"name": "bg"}, "spec": {"strategy": {"blueGreen": {}}}});
    assert_eq!(summary(&bg)["setWeight"], Value::Null);
    assert_eq!(summary(&bg)["namespace"], "default");
}

#[test]
fn requests_from_other_sites_are_told_apart() {
    let h = |pairs: &[(&'static str, &str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    };
    assert!(!cross_site(&h(&[])), "curl and weir's CLI");
    assert!(!cross_site(&h(&[("sec-fetch-site", "same-origin")])));
    assert!(!cross_site(&h(&[("sec-fetch-site", "none")])));
    assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")])));
    assert!(cross_site(&h(&[("sec-fetch-site", "same-site")])));
    assert!(!cross_site(&h(&[
        ("origin", "http://127.0.0.1:9901"),
        ("host", "127.0.0.1:9901")
    ])));
    assert!(cross_site(&h(&[
        ("origin", "http://evil.test"),
        ("host", "127.0.0.1:9901")
    ])));
    assert!(cross_site(&h(&[
        ("origin", "null"),
        ("host", "127.0.0.1:9901")
    ])));
}

#[tokio::test]
async fn actions_need_authorization_and_the_same_site() {
    let (fake, d) = dashboard();
    let (status, body) = call(
        &d,
        Method::POST,
        "api/rollouts/default/web/abort",
        &[],
        false,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = call(
        &d,
        Method::POST,
        "api/rollouts/default/web/abort",
        &[("sec-fetch-site", "cross-site")],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(fake.acted.lock().is_empty(), "nothing was done");
    let (status, body) = call(
        &d,
        Method::POST,
        "api/rollouts/default/web/promote-full",
        &[("sec-fetch-site", "same-origin")],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["summary"]["name"], "web");
    assert_eq!(
        fake.acted.lock().as_slice(),
        [("default".to_owned(), "web".to_owned(), Action::PromoteFull)]
    );
    let (status, _) = call(
        &d,
        Method::POST,
        "api/rollouts/default/web/explode",
        &[],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_api_lists_details_and_marks_verdicts() {
    let (_, d) = dashboard();
    let (status, list) = call(&d, Method::GET, "api/rollouts", &[], false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["rollouts"][0]["name"], "web");
    let (status, _) = call(&d, Method::GET, "api/rollouts/default/nope", &[], false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, detail) = call(&d, Method::GET, "api/rollouts/default/web", &[], false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["analysisRuns"][0]["metadata"]["name"], "web-run");
    let now = unix_now();
    for (i, canary) in [0u32, 0, 20, 20, 60].into_iter().enumerate() {
        let mut weights = BTreeMap::new();
        weights.insert("stable".to_owned(), 100 - canary);
        weights.insert("canary".to_owned(), canary);
        d.history.push(
            "default",
            "web",
            Point {
                t: now - 10.0 + i as f64,
                sample: Sample {
                    weights,
                    sides: BTreeMap::new(),
                },
            },
        );
    }
    let (_, series) = call(
        &d,
        Method::GET,
        "api/rollouts/default/web/series",
        &[],
        false,
    )
    .await;
    assert_eq!(series["points"].as_array().unwrap().len(), 5);
    let marks = series["marks"].as_array().unwrap();
    let texts: Vec<&str> = marks.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["canary 20%", "canary 60%"]);
    // Only the measurement that finished within the history (not the old one, not the
    // running one).
    let verdicts: Vec<&Value> = marks
        .iter()
        .filter(|m| m["kind"] == "measurement")
        .collect();
    assert_eq!(verdicts.len(), 1, "{marks:?}");
    assert_eq!(verdicts[0]["phase"], "Successful");
    assert_eq!(verdicts[0]["metric"], "success-rate");
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let (_, d) = dashboard();
    for path in [
        "",
        "index.html",
        "assets/app.js",
        "assets/app.css",
        "assets/vendor/uplot/uPlot.iife.min.js",
    ] {
        let resp = d
            .handle(&Method::GET, path, &HeaderMap::new(), false)
            .await
            .expect(path);
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    }
    assert!(d
        .handle(
            &Method::GET,
            "assets/../Cargo.toml",
            &HeaderMap::new(),
            false
        )
        .await
        .is_none());
    assert!(d
        .handle(&Method::GET, "elsewhere", &HeaderMap::new(), false)
        .await
        .is_none());
}

#[test]
fn history_keeps_only_its_span_and_live_rollouts() {
    let h = History::new(Duration::from_secs(10));
    for t in 0..30 {
        h.push(
            "default",
            "web",
            Point {
                t: t as f64,
                sample: Sample::default(),
            },
        );
    }
    let points = h.points("default", "web");
    assert_eq!(points.first().unwrap().t, 19.0);
    assert_eq!(points.len(), 11);
    h.retain(&[]);
    assert!(h.points("default", "web").is_empty());
}

#[tokio::test]
async fn rollouts_at_rest_are_sampled_only_while_someone_looks() {
    use std::sync::atomic::Ordering;
    let (fake, d) = dashboard();
    d.sample_now().await;
    assert_eq!(
        fake.sampled.load(Ordering::Relaxed),
        1,
        "a paused rollout is sampled"
    );
    fake.healthy.store(true, Ordering::Relaxed);
    d.sample_now().await;
    assert_eq!(
        fake.sampled.load(Ordering::Relaxed),
        1,
        "a healthy one nobody looks at is not"
    );
    let (status, _) = call(
        &d,
        Method::GET,
        "api/rollouts/default/web/series",
        &[],
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    d.sample_now().await;
    assert_eq!(
        fake.sampled.load(Ordering::Relaxed),
        2,
        "once its page is open it is"
    );
    assert_eq!(d.history.points("default", "web").len(), 2);
}

#[test]
fn a_windows_counts_become_rates_shares_and_seconds() {
    let s = SideStats::from_window(50, 5, Duration::from_secs(5), |q| {
        if q < 0.9 {
            1_500
        } else {
            20_000
        }
    });
    assert_eq!(s.rps, 10.0);
    assert_eq!(s.success, Some(0.9));
    assert_eq!((s.p50, s.p99), (Some(0.0015), Some(0.02)));
    let idle = SideStats::from_window(0, 0, Duration::ZERO, |_| 7);
    assert_eq!(
        (idle.rps, idle.success, idle.p50),
        (0.0, None, None),
        "no requests, no verdicts"
    );
}
