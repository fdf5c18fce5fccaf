//! `weir proxy --kubernetes` against the in-memory API server, with real traffic on
//! loopback: Argo's nginx getting-started Ingress and Services (claimed with
//! `--ingress-class nginx`, as a cluster moving off ingress-nginx would), EndpointSlices
//! pointing at real backends, and the canary Ingress Argo Rollouts' nginx mode writes
//! moving the split, with no failed request while its weight changes; ingress-nginx's
//! header and cookie rules above the weight; endpoints that stop being ready leave; an
//! Ingress weir cannot serve beside a good one.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::backend::Backend;
use support::client::{Client, Outcome};
use support::weir::Weir;
use weir_apiserver_sim::{ApiServer, Options};

const HOST: &str = "rollouts-demo.local";
const CANARY_INGRESS: &str = "rollouts-demo-rollouts-demo-stable-canary";
/// The proxy's RBAC, which every call it makes must be allowed by.
const PROXY_ROLE: &str = include_str!("../deploy/proxy/clusterrole.yaml");

const CONFIG: &str = "\
listeners:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
";

/// Argo's nginx Services without their pod selectors: the test's EndpointSlices stand for
/// the EndpointSlice controller and point at real backends.
fn services() -> String {
    include_str!("../config/tests/data/argo-examples/nginx/services.yaml")
        .replace("  selector:\n    app: rollouts-demo\n", "")
        .replace(
            "metadata:\n  name:",
            "metadata:\n  namespace: default\n  name:",
        )
}

fn slice(service: &str, backend: &Backend, ready: bool) -> serde_json::Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-abcde"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": backend.addr.port(), "protocol": "TCP"}],
        "endpoints": [{"addresses": [backend.addr.ip().to_string()], "conditions": {"ready": ready}}],
    })
}

/// The canary Ingress Argo's nginx router writes (`rollout/trafficrouting/nginx`): the
/// stable Ingress' rules pointed at the canary Service, its class annotation, and the
/// canary annotations.
fn canary_ingress(weight: u32, extra: serde_json::Value) -> serde_json::Value {
    let mut annotations = json!({
        "kubernetes.io/ingress.class": "nginx",
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": weight.to_string(),
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        annotations[k] = v.clone();
    }
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": CANARY_INGRESS, "namespace": "default", "annotations": annotations},
        "spec": {"rules": [{"host": HOST, "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "rollouts-demo-canary", "port": {"number": 80}}}}]}}]},
    })
}

fn apply(server: &ApiServer, object: &serde_json::Value) {
    server
        .apply_yaml(&serde_json::to_string(object).unwrap())
        .unwrap();
}

async fn get(client: &Client, weir: &Weir, headers: &[(&str, &str)]) -> Outcome {
    let mut all = vec![("host", HOST)];
    all.extend_from_slice(headers);
    client
        .get(&weir.authority(), "/", &all)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", weir.logs()))
}

/// Requests until `check` holds of one (the table is swapped a moment after the change).
async fn until_served(
    client: &Client,
    weir: &Weir,
    what: &str,
    headers: &[(&str, &str)],
    check: impl Fn(&Outcome) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = get(client, weir, headers).await;
        if check(&o) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}: last {o:?}\n{}",
            weir.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Requests to the route without pause, from another task, each one's status kept (0:
/// no answer), until stopped.
struct Statuses {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Vec<u16>>,
}

impl Statuses {
    fn start(client: &Client, weir: &Weir) -> Statuses {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, client, authority) = (stop.clone(), client.clone(), weir.authority());
        let task = tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let o = client.get(&authority, "/", &[("host", HOST)]).await;
                statuses.push(o.map(|o| o.status).unwrap_or(0));
            }
            statuses
        });
        Statuses { stop, task }
    }

    async fn stop(self) -> Vec<u16> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

async fn split(client: &Client, weir: &Weir, n: usize) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let o = get(client, weir, &[]).await;
        assert_eq!(o.status, 200, "{o:?}");
        *counts.entry(o.backend.unwrap_or_default()).or_insert(0) += 1;
    }
    counts
}

/// Argo's nginx Ingress, and EndpointSlices pointing its stable and canary Services at
/// the two backends.
fn nginx_ingress(server: &ApiServer, stable: &Backend, canary: &Backend) {
    apply(server, &slice("rollouts-demo-stable", stable, true));
    apply(server, &slice("rollouts-demo-canary", canary, true));
    server
        .apply_yaml(
            &include_str!("../config/tests/data/argo-examples/nginx/ingress.yaml").replace(
                "metadata:\n  name: rollouts-demo-stable\n",
                "metadata:\n  name: rollouts-demo-stable\n  namespace: default\n",
            ),
        )
        .unwrap();
}

/// `weir proxy --kubernetes --ingress-class nginx` on this server, with `extra` flags.
async fn nginx_proxy(server: &ApiServer, extra: &[&str]) -> Weir {
    let kubeconfig = server.kubeconfig();
    let mut args = vec![
        "--kubernetes",
        "--ingress-class",
        "nginx",
        "--kubeconfig",
        "kubeconfig",
    ];
    args.extend_from_slice(extra);
    Weir::start_proxy_with_args(CONFIG, &args, &[("kubeconfig", kubeconfig.as_bytes())]).await
}

async fn started() -> (ApiServer, Weir, Backend, Backend) {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    server.apply_yaml(&services()).unwrap();
    nginx_ingress(&server, &stable, &canary);
    let weir = nginx_proxy(
        &server,
        &["--publish-status-address", "203.0.113.7,lb.example.test"],
    )
    .await;
    (server, weir, stable, canary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_nginx_canary_ingress_moves_the_split_with_no_failed_request() {
    let (server, weir, _stable, _canary) = started().await;
    let client = Client::http1();
    until_served(&client, &weir, "routed to stable", &[], |o| {
        o.backend.as_deref() == Some("stable")
    })
    .await;
    // Another host is not this Ingress'.
    let other = client
        .get(&weir.authority(), "/", &[("host", "elsewhere.local")])
        .await
        .unwrap();
    assert_eq!(other.status, 404, "{other:?}");

    // Argo's canary Ingress at 20%: the split follows, within the binomial band.
    apply(&server, &canary_ingress(20, json!({})));
    until_served(&client, &weir, "routed to the canary", &[], |o| {
        o.backend.as_deref() == Some("canary")
    })
    .await;
    // Both Ingresses carry the published addresses, as ingress-nginx writes them.
    for name in ["rollouts-demo-stable", CANARY_INGRESS] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let i = server
                .get("networking.k8s.io/v1", "Ingress", "default", name)
                .unwrap();
            if i["status"]["loadBalancer"]["ingress"]
                == json!([{"ip": "203.0.113.7"}, {"hostname": "lb.example.test"}])
            {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: {}", i["status"]);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let counts = split(&client, &weir, 400).await;
    support::assert_binomial(
        "canary at 20%",
        counts.get("canary").copied().unwrap_or(0),
        400,
        0.2,
    );

    // Under load, the weight moves 20 -> 50 -> 100 -> 0 as Argo's steps and abort would:
    // no request fails.
    let load = Statuses::start(&client, &weir);
    for weight in [50, 100, 0] {
        apply(&server, &canary_ingress(weight, json!({})));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let statuses = load.stop().await;
    assert!(statuses.len() > 50, "{} requests", statuses.len());
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        statuses.len()
    );
    let counts = split(&client, &weir, 50).await;
    assert_eq!(
        counts.get("stable"),
        Some(&50),
        "weight 0 gets nothing: {counts:?}"
    );
    // Every call the proxy made is one deploy/proxy/'s read-only RBAC allows.
    support::kube::assert_calls_allowed_by(&server, "the proxy", &[PROXY_ROLE]);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_then_cookie_then_weight_as_ingress_nginx_orders_them() {
    let (server, weir, _stable, _canary) = started().await;
    let client = Client::http1();
    apply(
        &server,
        &canary_ingress(
            0,
            json!({
                "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
                "nginx.ingress.kubernetes.io/canary-by-cookie": "canary_user",
            }),
        ),
    );
    until_served(
        &client,
        &weir,
        "by header",
        &[("x-canary", "always")],
        |o| o.backend.as_deref() == Some("canary"),
    )
    .await;
    for (headers, want) in [
        (vec![("x-canary", "always")], "canary"),
        (vec![("x-canary", "never")], "stable"),
        // Another value: the header is ignored, the cookie decides.
        (
            vec![("x-canary", "maybe"), ("cookie", "a=b; canary_user=always")],
            "canary",
        ),
        (vec![("cookie", "canary_user=always")], "canary"),
        // The header comes first.
        (
            vec![("x-canary", "never"), ("cookie", "canary_user=always")],
            "stable",
        ),
        (vec![("cookie", "canary_user=never")], "stable"),
        (vec![("cookie", "not_canary_user=always")], "stable"),
        (vec![], "stable"),
    ] {
        for _ in 0..5 {
            let o = get(&client, &weir, &headers).await;
            assert_eq!(o.backend.as_deref(), Some(want), "{headers:?}: {o:?}");
        }
    }
    // A header value: only that value goes to the canary.
    apply(
        &server,
        &canary_ingress(
            0,
            json!({
                "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
                "nginx.ingress.kubernetes.io/canary-by-header-value": "blue",
            }),
        ),
    );
    until_served(
        &client,
        &weir,
        "by header value",
        &[("x-canary", "blue")],
        |o| o.backend.as_deref() == Some("canary"),
    )
    .await;
    let o = get(&client, &weir, &[("x-canary", "always")]).await;
    assert_eq!(o.backend.as_deref(), Some("stable"), "{o:?}");
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_that_are_not_ready_leave_and_a_bad_ingress_leaves_the_others_serving() {
    let (server, weir, stable, _canary) = started().await;
    let client = Client::http1();
    until_served(&client, &weir, "routed to stable", &[], |o| {
        o.backend.as_deref() == Some("stable")
    })
    .await;
    // The stable endpoint not ready: no request reaches it (503, nothing dialed).
    let hits = stable.hits();
    apply(&server, &slice("rollouts-demo-stable", &stable, false));
    until_served(&client, &weir, "without the not-ready endpoint", &[], |o| {
        o.status == 503
    })
    .await;
    let after = stable.hits();
    for _ in 0..10 {
        let o = get(&client, &weir, &[]).await;
        assert_eq!(o.status, 503, "{o:?}");
    }
    assert_eq!(stable.hits(), after, "a not-ready endpoint got requests");
    assert!(after >= hits);
    apply(&server, &slice("rollouts-demo-stable", &stable, true));
    until_served(&client, &weir, "ready again", &[], |o| {
        o.backend.as_deref() == Some("stable")
    })
    .await;

    // An Ingress naming a Service that does not exist, and a canary with a weight that is
    // not a number: both reported, the stable route keeps serving.
    apply(
        &server,
        &json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "broken", "namespace": "default",
                "annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {"rules": [{"host": "broken.local", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "missing", "port": {"number": 80}}}}]}}]},
        }),
    );
    let mut bad = canary_ingress(0, json!({}));
    bad["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] = json!("lots");
    apply(&server, &bad);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(weir.logs().contains("default/broken") && weir.logs().contains("is not a whole number"))
    {
        assert!(Instant::now() < deadline, "{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        weir.logs()
            .contains("Service default/missing does not exist"),
        "{}",
        weir.logs()
    );
    // Said where `kubectl describe ingress broken` shows it: a Warning Event.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = server.list("v1", "Event", "default").unwrap();
        let found = events.iter().any(|e| {
            e["involvedObject"]["name"] == "broken"
                && e["involvedObject"]["kind"] == "Ingress"
                && e["reason"] == "NotServed"
                && e["type"] == "Warning"
                && e["message"] == "Service default/missing does not exist"
        });
        if found {
            break;
        }
        assert!(Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..10 {
        let o = get(&client, &weir, &[]).await;
        assert_eq!(o.backend.as_deref(), Some("stable"), "{o:?}");
    }
    let broken = client
        .get(&weir.authority(), "/", &[("host", "broken.local")])
        .await
        .unwrap();
    assert_eq!(broken.status, 404, "{broken:?}");
    server.shutdown();
}

/// The in-memory API server with Argo's nginx getting-started set and Rollout, two weir
/// proxies (`--kubernetes --ingress-class nginx`) behind an admin Service, and weir's
/// controller reading them (`--proxy-service`).
async fn controller_and_proxies() -> (
    ApiServer,
    support::kube::Controller,
    Vec<Weir>,
    Backend,
    Backend,
) {
    controller_and_proxies_with(|rollout| rollout, "", &[]).await
}

/// As [`controller_and_proxies`], the Rollout changed by `rollout` and `extra` manifests
/// applied before it, the controller started with `controller_args` too.
async fn controller_and_proxies_with(
    rollout: impl Fn(String) -> String,
    extra: &str,
    controller_args: &[&str],
) -> (
    ApiServer,
    support::kube::Controller,
    Vec<Weir>,
    Backend,
    Backend,
) {
    // The test's EndpointSlices stand for the EndpointSlice controller: the Services'
    // endpoints are the real backends on loopback, whatever their selectors say.
    let server = ApiServer::start(Options {
        endpointslice_controller: false,
        pod_ready_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    server
        .apply_yaml(
            &include_str!("../config/tests/data/argo-examples/nginx/services.yaml").replace(
                "metadata:\n  name:",
                "metadata:\n  namespace: default\n  name:",
            ),
        )
        .unwrap();
    nginx_ingress(&server, &stable, &canary);
    let mut proxies = Vec::new();
    for _ in 0..2 {
        proxies.push(nginx_proxy(&server, &[]).await);
    }
    // The proxies' admin Service, one slice per replica (their admin ports differ here).
    for (i, p) in proxies.iter().enumerate() {
        apply(&server, &p.admin_endpoint_slice(i));
    }
    if !extra.is_empty() {
        server.apply_yaml(extra).unwrap();
    }
    server
        .apply_yaml(&rollout(
            include_str!("../config/tests/data/argo-examples/nginx/rollout.yaml").replace(
                "metadata:\n  name:",
                "metadata:\n  namespace: default\n  name:",
            ),
        ))
        .unwrap();
    let args: Vec<&str> = ["--proxy-service", "default/weir-proxy-admin:admin"]
        .into_iter()
        .chain(controller_args.iter().copied())
        .collect();
    let controller = support::kube::Controller::start_with(&server, &args);
    (server, controller, proxies, stable, canary)
}

/// weir's controller and two weir proxies together, meeting only through standard objects:
/// Argo's nginx getting-started Rollout; the controller writes the canary Ingress, both
/// proxies serve it, and the step's weight is verified only once every replica's `/routes`
/// serves it. An abort puts the traffic back on stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirs_controller_drives_two_weir_proxies_through_the_canary_ingress() {
    let dashboard = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (server, controller, proxies, _stable, _canary) =
        controller_and_proxies_with(|rollout| rollout, "", &["--dashboard-address", &dashboard])
            .await;
    let name = "rollouts-demo";
    support::kube::until(&server, &controller, name, "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    let client = Client::http1();
    for p in &proxies {
        until_served(&client, p, "on stable", &[], |o| {
            o.backend.as_deref() == Some("stable")
        })
        .await;
    }

    support::kube::set_image_with_http_port(
        &server,
        name,
        "rollouts-demo",
        "argoproj/rollouts-demo:yellow",
    )
    .await;
    let paused = support::kube::until(
        &server,
        &controller,
        name,
        "paused at 5%, verified",
        |r, _| {
            r["status"]["phase"] == "Paused"
                && r["status"]["canary"]["weights"]["canary"]["weight"] == 5
                && r["status"]["canary"]["weights"]["verified"] == true
        },
    )
    .await;
    // Verified means served: both replicas serve 5/95 from the canary Ingress as it is now.
    let canary_ingress = server
        .get("networking.k8s.io/v1", "Ingress", "default", CANARY_INGRESS)
        .unwrap();
    assert_eq!(
        canary_ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
        "5"
    );
    for p in &proxies {
        let routes = p.admin_json("/routes").await;
        let route = routes["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == format!("default/rollouts-demo-stable:{HOST}/"))
            .unwrap_or_else(|| panic!("{routes}"))
            .clone();
        assert_eq!(route["backends"][0]["weight"], 95, "{route}");
        assert_eq!(route["backends"][1]["weight"], 5, "{route}");
        assert_eq!(
            routes["sources"]["kubernetes"]["ingresses"][format!("default/{CANARY_INGRESS}")],
            canary_ingress["metadata"]["resourceVersion"],
            "{routes}"
        );
    }
    assert_eq!(
        paused["status"]["canary"]["weights"]["stable"]["weight"],
        95
    );
    let mut on_canary = 0;
    for p in &proxies {
        for _ in 0..200 {
            let o = get(&client, p, &[]).await;
            assert_eq!(o.status, 200, "{o:?}");
            on_canary += u64::from(o.backend.as_deref() == Some("canary"));
        }
    }
    support::assert_binomial("canary at 5% over both proxies", on_canary, 400, 0.05);

    // The controller's dashboard plots what both proxies serve: a point with the live
    // weights and each side's traffic, merged over the replicas, while requests flow.
    let load: Vec<Statuses> = proxies
        .iter()
        .map(|p| Statuses::start(&client, p))
        .collect();
    let series_path = format!("/api/rollouts/default/{name}/series");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let point = loop {
        let answer = client.get(&dashboard, &series_path, &[]).await.unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        let series: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let both = series["points"].as_array().into_iter().flatten().find(|p| {
            p["sides"]["stable"]["rps"]
                .as_f64()
                .is_some_and(|r| r > 0.0)
                && p["sides"]["canary"]["rps"]
                    .as_f64()
                    .is_some_and(|r| r > 0.0)
        });
        if let Some(p) = both {
            break p.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no point with both sides: {series}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        point["weights"],
        json!({"stable": 95, "canary": 5}),
        "{point}"
    );
    assert_eq!(point["sides"]["stable"]["success"], 1.0, "{point}");
    assert!(
        point["sides"]["canary"]["p99"]
            .as_f64()
            .is_some_and(|s| s > 0.0),
        "{point}"
    );
    // The stable side carries about 19 times the canary's rate (5% against 95%).
    let ratio = point["sides"]["stable"]["rps"].as_f64().unwrap()
        / point["sides"]["canary"]["rps"].as_f64().unwrap();
    assert!(ratio > 5.0, "stable/canary rate {ratio}: {point}");
    for l in load {
        assert!(l.stop().await.iter().all(|s| *s == 200));
    }

    // Abort: the canary Ingress goes to 0 and every request goes back to stable.
    support::kube::merge_patch(
        &server,
        &format!("{}/status", support::kube::rollout_path(name)),
        json!({"status": {"abort": true}}),
    )
    .await;
    support::kube::until(&server, &controller, name, "aborted, verified", |r, _| {
        r["status"]["abort"] == true
            && r["status"]["canary"]["weights"]["canary"]["weight"] == 0
            && r["status"]["canary"]["weights"]["verified"] == true
    })
    .await;
    for p in &proxies {
        for _ in 0..50 {
            let o = get(&client, p, &[]).await;
            assert_eq!(o.backend.as_deref(), Some("stable"), "{o:?}");
        }
    }
    // The calls of both, each allowed by its own RBAC (the union: the API server counts
    // them together).
    support::kube::assert_calls_allowed_by(
        &server,
        "the controller and the proxies",
        &[
            include_str!("../deploy/controller/clusterrole.yaml"),
            include_str!("../deploy/controller/role.yaml"),
            PROXY_ROLE,
        ],
    );
    server.shutdown();
}

/// weir's controller and two weir proxies with a weir-provider analysis step: the
/// analysis reads every proxy replica's histograms of the Ingress' route (here the load goes
/// through one replica, then only through the other, so each verdict needs that replica's
/// figures). A good canary is promoted to Healthy with traffic flowing; a bad one (its
/// backend answering 500) fails the analysis, the Rollout aborts, and its traffic is back on
/// stable with the next weight change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weir_analysis_over_both_proxies_promotes_a_good_canary_and_aborts_a_bad_one() {
    let template = format!(
        "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: canary-health, namespace: default}}
spec:
  metrics:
  - name: success-rate
    count: 2
    interval: 2s
    failureLimit: 0
    successCondition: result >= 0.95
    provider:
      weir: {{route: \"default/rollouts-demo-stable:{HOST}/\", backend: canary, metric: success-rate, window: 5s, minRequests: 10}}
"
    );
    let (server, controller, proxies, _stable, canary) = controller_and_proxies_with(
        |rollout| {
            let changed = rollout.replace(
                "      - setWeight: 5\n      - pause: {}\n",
                "      - setWeight: 50\n      - analysis: {templates: [{templateName: canary-health}]}\n",
            );
            assert!(changed.contains("canary-health"), "{changed}");
            changed
        },
        &template,
        &[],
    )
    .await;
    let name = "rollouts-demo";
    support::kube::until(&server, &controller, name, "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    let client = Client::http1();
    let runs = |phase: &str| -> Vec<serde_json::Value> {
        server
            .list("argoproj.io/v1alpha1", "AnalysisRun", "default")
            .unwrap()
            .into_iter()
            .filter(|r| r["status"]["phase"] == phase)
            .collect()
    };

    // A good canary, its traffic through the first replica only.
    let load = Statuses::start(&client, &proxies[0]);
    support::kube::set_image_with_http_port(
        &server,
        name,
        "rollouts-demo",
        "argoproj/rollouts-demo:yellow",
    )
    .await;
    support::kube::until(&server, &controller, name, "promoted", |r, _| {
        r["status"]["phase"] == "Healthy"
            && r["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "2"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
    })
    .await;
    let statuses = load.stop().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let good = runs("Successful");
    assert_eq!(good.len(), 1, "{good:?}");
    let measured = &good[0]["status"]["metricResults"][0];
    assert_eq!(measured["successful"], 2, "{measured}");
    assert_eq!(measured["measurements"][0]["value"], "1", "{measured}");

    // A bad canary, its traffic through the second replica only: the analysis fails on
    // what that replica saw, and the Rollout aborts back to stable.
    canary
        .status
        .store(500, std::sync::atomic::Ordering::Relaxed);
    let load = Statuses::start(&client, &proxies[1]);
    support::kube::set_image_with_http_port(
        &server,
        name,
        "rollouts-demo",
        "argoproj/rollouts-demo:red",
    )
    .await;
    support::kube::until(&server, &controller, name, "aborted, verified", |r, _| {
        r["status"]["abort"] == true
            && r["status"]["canary"]["weights"]["canary"]["weight"] == 0
            && r["status"]["canary"]["weights"]["verified"] == true
    })
    .await;
    let statuses = load.stop().await;
    assert!(statuses.contains(&500), "the bad canary was served");
    let bad = runs("Failed");
    assert_eq!(bad.len(), 1, "{bad:?}");
    let value: f64 = bad[0]["status"]["metricResults"][0]["measurements"][0]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(value < 0.95, "{}", bad[0]["status"]);
    for p in &proxies {
        for _ in 0..50 {
            let o = get(&client, p, &[]).await;
            assert_eq!(
                (o.status, o.backend.as_deref()),
                (200, Some("stable")),
                "{o:?}"
            );
        }
    }
    server.shutdown();
}

/// An Ingress' `spec.tls`: its `kubernetes.io/tls` Secret is served on the proxy's TLS
/// listener by SNI (the file's certificate stays the default); a Secret that is not a
/// certificate is reported on its Ingress, which still serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingress_tls_secret_is_served_by_sni() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let backend = Backend::start("secure").await;
    server
        .apply_yaml(
            "apiVersion: v1\nkind: Service\nmetadata: {name: secure, namespace: default}\nspec:\n  ports: [{name: http, port: 80}]\n",
        )
        .unwrap();
    let mut s = slice("secure", &backend, true);
    s["metadata"]["name"] = json!("secure-abcde");
    apply(&server, &s);
    let site = rcgen::generate_simple_self_signed(vec!["secure.test".to_string()]).unwrap();
    apply(
        &server,
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "secure-tls", "namespace": "default"},
            "stringData": {"tls.crt": site.cert.pem(), "tls.key": site.signing_key.serialize_pem()}}),
    );
    apply(
        &server,
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "junk-tls", "namespace": "default"},
            "stringData": {"tls.crt": "not a certificate", "tls.key": "nor a key"}}),
    );
    for (name, host, secret) in [
        ("secure", "secure.test", "secure-tls"),
        ("junk", "junk.test", "junk-tls"),
    ] {
        apply(
            &server,
            &json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"ingressClassName": "weir",
                    "tls": [{"hosts": [host], "secretName": secret}],
                    "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": "secure", "port": {"number": 80}}}}]}}]}}),
        );
    }
    let (default_cert, default_key, default_der) = support::raw::tls_files();
    let config = "\
listeners:
  - address: 127.0.0.1:0
    tls:
      certificates:
        - {cert: cert.pem, key: key.pem}
admin:
  address: 127.0.0.1:0
";
    let kubeconfig = server.kubeconfig();
    let weir = Weir::start_proxy_with_args(
        config,
        &["--kubernetes", "--kubeconfig", "kubeconfig"],
        &[
            ("kubeconfig", kubeconfig.as_bytes()),
            ("cert.pem", default_cert.as_bytes()),
            ("key.pem", default_key.as_bytes()),
        ],
    )
    .await;
    // The Secret's certificate for its host, once the proxy has read it.
    support::raw::until_certificate_served(
        weir.listeners[0],
        "secure.test",
        site.cert.der(),
        || weir.logs(),
    )
    .await;
    let client = Client::tls(weir.listeners[0], "secure.test", site.cert.der()).await;
    let o = client.get("secure.test", "/", &[]).await.unwrap();
    assert_eq!(o.backend.as_deref(), Some("secure"), "{o:?}");
    // Another name gets the file's default certificate.
    let other = Client::tls(weir.listeners[0], "localhost", &default_der).await;
    let o = other.get("secure.test", "/", &[]).await.unwrap();
    assert_eq!(o.status, 200, "{o:?}");
    // The junk Secret is the junk Ingress' problem: an Event, and the route still serves.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = server.list("v1", "Event", "default").unwrap();
        if events.iter().any(|e| {
            e["involvedObject"]["name"] == "junk"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("TLS Secret default/junk-tls"))
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "{events:?}\n{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let junk = other.get("junk.test", "/", &[]).await.unwrap();
    assert_eq!(junk.backend.as_deref(), Some("secure"), "{junk:?}");
    support::kube::assert_calls_allowed_by(&server, "the proxy", &[PROXY_ROLE]);
    server.shutdown();
}

/// Endpoints churning under load, as pods come and go: a terminating endpoint leaves the
/// table before its server goes away (no request fails), a not-ready one gets no request
/// until it is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_churn_under_load_without_a_failed_request() {
    let (server, weir, a, _canary) = started().await;
    let b = Backend::start("stable").await;
    let c = Backend::start("stable").await;
    let endpoint = |backend: &Backend, conditions: serde_json::Value| json!({"addresses": [backend.addr.ip().to_string()], "conditions": conditions});
    // One slice per endpoint (their ports differ here; a pod's would not).
    let put = |name: &str, backend: &Backend, conditions: serde_json::Value| {
        apply(
            &server,
            &json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": name, "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "rollouts-demo-stable"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": backend.addr.port(), "protocol": "TCP"}],
                "endpoints": [endpoint(backend, conditions)],
            }),
        )
    };
    put("stable-b", &b, json!({"ready": true}));
    put("stable-c", &c, json!({"ready": false}));
    let client = Client::http1();
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.hits() == 0 || a.hits() == 0 {
        let o = get(&client, &weir, &[]).await;
        assert!(o.status == 200 || o.status == 404, "{o:?}");
        assert!(Instant::now() < deadline, "{}", weir.logs());
    }
    let load = Statuses::start(&client, &weir);
    // B's pod is deleted: terminating, then gone; its server stops once the proxies no
    // longer list it (the kubelet's grace period).
    put(
        "stable-b",
        &b,
        json!({"ready": false, "serving": true, "terminating": true}),
    );
    let b_address = b.addr.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let routes = weir.admin_json("/routes").await.to_string();
        if !routes.contains(&b_address) {
            break;
        }
        assert!(Instant::now() < deadline, "{routes}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.kill();
    let b_hits = b.hits();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.hits(), b_hits, "requests reached a terminated endpoint");
    assert_eq!(c.hits(), 0, "a not-ready endpoint got requests");
    // C becomes ready: it takes its share.
    put("stable-c", &c, json!({"ready": true}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.hits() == 0 {
        assert!(Instant::now() < deadline, "{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let statuses = load.stop().await;
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(statuses.len() > 50, "{} requests", statuses.len());
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        statuses.len()
    );
    server.shutdown();
}

/// The same pair through faults: the API server forgets its history and drops every
/// watch, and one proxy is killed with SIGKILL and started again (a new admin port in its
/// EndpointSlice, as a new pod would have) while the Rollout is paused; promoted, the
/// Rollout completes with its weights verified on both replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pair_rides_out_dropped_watches_and_a_proxy_restart() {
    let (server, controller, mut proxies, _stable, _canary) = controller_and_proxies().await;
    let name = "rollouts-demo";
    support::kube::until(&server, &controller, name, "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    support::kube::set_image_with_http_port(
        &server,
        name,
        "rollouts-demo",
        "argoproj/rollouts-demo:yellow",
    )
    .await;
    support::kube::until(
        &server,
        &controller,
        name,
        "paused at 5%, verified",
        |r, _| {
            r["status"]["phase"] == "Paused" && r["status"]["canary"]["weights"]["verified"] == true
        },
    )
    .await;
    // The history compacted and every watch dropped (the controller's and the proxies'):
    // each watch's resume is 410 Gone and it relists. (With kube-runtime's default backoff,
    // shared by a controller's watches, the paused Rollout's controller missed the promote
    // below for 30 s and more: `controller::trigger_backoff`.)
    server.faults().compact();
    server.faults().drop_watches();
    let restarted = proxies.pop().unwrap().kill9_and_restart().await;
    apply(&server, &restarted.admin_endpoint_slice(1));
    proxies.push(restarted);
    // The restarted proxy rebuilds its table from the cluster alone.
    let client = Client::http1();
    until_served(
        &client,
        &proxies[1],
        "routed again after the restart",
        &[],
        |o| o.status == 200,
    )
    .await;
    support::kube::merge_patch(
        &server,
        &format!("{}/status", support::kube::rollout_path(name)),
        json!({"status": {"pauseConditions": null}}),
    )
    .await;
    support::kube::until(&server, &controller, name, "promoted, verified", |r, _| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
            && r["status"]["canary"]["weights"]["verified"] == true
    })
    .await;
    // Both replicas serve the same split of the same Ingresses.
    let answers: Vec<_> =
        futures_util::future::join_all(proxies.iter().map(|p| p.admin_json("/routes"))).await;
    let route = |a: &serde_json::Value| {
        a["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == format!("default/rollouts-demo-stable:{HOST}/"))
            .map(|r| r["backends"].clone())
    };
    assert!(route(&answers[0]).is_some(), "{}", answers[0]);
    assert_eq!(route(&answers[0]), route(&answers[1]));
    server.shutdown();
}

/// `--publish-service`: the proxy's own LoadBalancer Service's addresses (as a cloud's
/// controller writes them in its status) are written on the served Ingresses, and follow
/// when they change, as ingress-nginx's `--publish-service` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_services_addresses_are_written_on_the_ingresses() {
    let server = ApiServer::start(Options {
        endpointslice_controller: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    server.apply_yaml(&services()).unwrap();
    nginx_ingress(&server, &stable, &canary);
    server
        .apply_yaml(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: weir}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: weir-proxy, namespace: weir}\nspec:\n  type: LoadBalancer\n  ports: [{name: http, port: 80}]\n",
        )
        .unwrap();
    // What a cloud's service controller writes once the balancer exists.
    let set_balancer = |ingress: serde_json::Value| {
        let mut svc = server.get("v1", "Service", "weir", "weir-proxy").unwrap();
        svc["status"] = json!({"loadBalancer": {"ingress": ingress}});
        server.update_status(svc).unwrap();
    };
    set_balancer(json!([{"ip": "198.51.100.10"}]));
    let weir = nginx_proxy(&server, &["--publish-service", "weir/weir-proxy"]).await;
    let written = |want: serde_json::Value| {
        let server = &server;
        let weir = &weir;
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let i = server
                    .get(
                        "networking.k8s.io/v1",
                        "Ingress",
                        "default",
                        "rollouts-demo-stable",
                    )
                    .unwrap();
                if i["status"]["loadBalancer"]["ingress"] == want {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}\n{}",
                    i["status"],
                    weir.logs()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    written(json!([{"ip": "198.51.100.10"}])).await;
    set_balancer(json!([{"hostname": "lb.example.test"}]));
    written(json!([{"hostname": "lb.example.test"}])).await;
    support::kube::assert_calls_allowed_by(&server, "the proxy", &[PROXY_ROLE]);
    server.shutdown();
}
