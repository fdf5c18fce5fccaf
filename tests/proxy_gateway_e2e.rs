//! `weir proxy --kubernetes` as a Gateway API implementation, first slice, against the
//! in-memory API server with real traffic on loopback: the Gateway API plugin's
//! envoy-gateway example with its GatewayClass pointed at weir's controller; the
//! HTTPRoute's weighted backendRefs split the traffic (weight 0 gets nothing, all zero
//! answers 503); the statuses the plugin and Flagger wait on (GatewayClass and Gateway
//! Accepted and Programmed, the route parent's Accepted and ResolvedRefs with its
//! observedGeneration); and weir's controller driving the plugin's Rollout with its weights
//! verified on the proxy.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::backend::Backend;
use support::client::Client;
use support::weir::Weir;
use weir_apiserver_sim::{ApiServer, Options};

const ROUTE: &str = "argo-rollouts-http-route";
const HOST: &str = "demo.example.com";
const GROUP: &str = "gateway.networking.k8s.io/v1";

fn envoy(file: &str) -> String {
    match file {
        "gateway" => include_str!(
            "../config/tests/data/gatewayapi-plugin-examples/envoygateway/gateway.yaml"
        ),
        "httproute" => include_str!(
            "../config/tests/data/gatewayapi-plugin-examples/envoygateway/httproute.yaml"
        ),
        "rollout" => include_str!(
            "../config/tests/data/gatewayapi-plugin-examples/envoygateway/rollout.yaml"
        ),
        _ => unreachable!(),
    }
    // A cluster moving to weir points the class at weir's controller.
    .replace(
        "gateway.envoyproxy.io/gatewayclass-controller",
        "weir.dev/gateway-controller",
    )
}

fn slice(service: &str, backend: &Backend) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-abcde"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": backend.addr.port(), "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
    })
}

fn service(name: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  ports: [{{name: http, port: 80, targetPort: http}}]\n")
}

fn apply(server: &ApiServer, v: &Value) {
    server
        .apply_yaml(&serde_json::to_string(v).unwrap())
        .unwrap();
}

fn route(server: &ApiServer) -> Value {
    server.get(GROUP, "HTTPRoute", "default", ROUTE).unwrap()
}

async fn set_weights(server: &ApiServer, stable: i64, canary: i64) {
    let mut r = route(server);
    r["spec"]["rules"][0]["backendRefs"][0]["weight"] = json!(stable);
    r["spec"]["rules"][0]["backendRefs"][1]["weight"] = json!(canary);
    r["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    apply(server, &r);
}

async fn started() -> (ApiServer, Weir, Backend, Backend) {
    let server = ApiServer::start(Options {
        endpointslice_controller: false,
        pod_ready_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .unwrap();
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    server
        .apply_yaml(&service("argo-rollouts-stable-service"))
        .unwrap();
    server
        .apply_yaml(&service("argo-rollouts-canary-service"))
        .unwrap();
    apply(&server, &slice("argo-rollouts-stable-service", &stable));
    apply(&server, &slice("argo-rollouts-canary-service", &canary));
    server.apply_yaml(&envoy("gateway")).unwrap();
    server.apply_yaml(&envoy("httproute")).unwrap();
    let kubeconfig = server.kubeconfig();
    let weir = Weir::start_proxy_with_args(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
        &["--kubernetes", "--kubeconfig", "kubeconfig"],
        &[("kubeconfig", kubeconfig.as_bytes())],
    )
    .await;
    (server, weir, stable, canary)
}

async fn get(client: &Client, weir: &Weir) -> support::client::Outcome {
    client
        .get(&weir.authority(), "/", &[("host", HOST)])
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", weir.logs()))
}

async fn until(what: &str, weir: &Weir, check: impl AsyncFnMut() -> bool) {
    let mut check = check;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "never {what}\n{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The weights of the route the proxy serves for the HTTPRoute's first rule.
async fn served_weights(weir: &Weir) -> Vec<i64> {
    let routes = weir.admin_json("/routes").await;
    routes["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("default/{ROUTE}:0.")))
        })
        .map(|r| {
            r["backends"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["weight"].as_i64().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> &'a Value {
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_httproutes_weights_split_the_traffic_and_its_status_is_written() {
    let (server, weir, _stable, _canary) = started().await;
    let client = Client::http1();
    // The example's backendRefs have no weight: 1 each, half and half.
    until("served", &weir, async || {
        get(&client, &weir).await.status == 200
    })
    .await;

    // The statuses.
    let gateway = server.get(GROUP, "Gateway", "default", "eg").unwrap();
    until("statuses written", &weir, async || {
        let class = server.get(GROUP, "GatewayClass", "", "eg").unwrap();
        let gw = server.get(GROUP, "Gateway", "default", "eg").unwrap();
        let r = route(&server);
        condition(&class["status"]["conditions"], "Accepted")["status"] == "True"
            && condition(&gw["status"]["conditions"], "Programmed")["status"] == "True"
            && r["status"]["parents"][0]["controllerName"] == "weir.dev/gateway-controller"
    })
    .await;
    let gw = server.get(GROUP, "Gateway", "default", "eg").unwrap();
    assert_eq!(
        condition(&gw["status"]["conditions"], "Accepted")["status"],
        "True"
    );
    assert_eq!(
        condition(&gw["status"]["conditions"], "Accepted")["observedGeneration"],
        gateway["metadata"]["generation"]
    );
    let r = route(&server);
    let parent = &r["status"]["parents"][0];
    assert_eq!(parent["parentRef"]["name"], "eg");
    for kind in ["Accepted", "ResolvedRefs"] {
        let c = condition(&parent["conditions"], kind);
        assert_eq!(c["status"], "True", "{parent}");
        assert_eq!(c["reason"], kind, "{parent}");
        assert_eq!(c["observedGeneration"], r["metadata"]["generation"]);
    }

    // 70/30 as the plugin writes it: the split follows, and the status' observedGeneration
    // moves with the route.
    set_weights(&server, 70, 30).await;
    until("at 70/30", &weir, async || {
        served_weights(&weir).await == [70, 30]
    })
    .await;
    let mut on_canary = 0;
    for _ in 0..400 {
        let o = get(&client, &weir).await;
        assert_eq!(o.status, 200, "{o:?}");
        on_canary += u64::from(o.backend.as_deref() == Some("canary"));
    }
    support::assert_binomial("canary at 30%", on_canary, 400, 0.3);
    until("observedGeneration moved", &weir, async || {
        let r = route(&server);
        condition(&r["status"]["parents"][0]["conditions"], "Accepted")["observedGeneration"]
            == r["metadata"]["generation"]
    })
    .await;
    // Weight 0 gets nothing; all zero answers 503 without dialing.
    set_weights(&server, 100, 0).await;
    until("all on stable", &weir, async || {
        served_weights(&weir).await == [100, 0]
    })
    .await;
    for _ in 0..50 {
        assert_eq!(get(&client, &weir).await.backend.as_deref(), Some("stable"));
    }
    set_weights(&server, 0, 0).await;
    until("503 with every weight 0", &weir, async || {
        get(&client, &weir).await.status == 503
    })
    .await;
    // A backendRef to a Service that does not exist: ResolvedRefs False, BackendNotFound.
    let mut r = route(&server);
    r["spec"]["rules"][0]["backendRefs"][1]["name"] = json!("missing");
    r["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    apply(&server, &r);
    until("ResolvedRefs False", &weir, async || {
        let r = route(&server);
        let c = condition(&r["status"]["parents"][0]["conditions"], "ResolvedRefs");
        c["status"] == "False" && c["reason"] == "BackendNotFound"
    })
    .await;
    support::kube::assert_calls_allowed_by(
        &server,
        "the proxy",
        &[include_str!("../deploy/proxy/clusterrole.yaml")],
    );
    server.shutdown();
}

/// weir's controller drives the plugin's Rollout (the envoy-gateway example) and one weir
/// proxy serves the HTTPRoute: each step's weight is verified only once the proxy serves
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirs_controller_drives_weirs_gateway_through_the_plugins_httproute() {
    let (server, weir, _stable, _canary) = started().await;
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    apply(&server, &weir.admin_endpoint_slice(0));
    server.apply_yaml(&envoy("rollout")).unwrap();
    let controller = support::kube::Controller::start_with(
        &server,
        &["--proxy-service", "default/weir-proxy-admin:admin"],
    );
    let name = "rollouts-demo";
    support::kube::until(&server, &controller, name, "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    support::kube::set_image_with_http_port(
        &server,
        name,
        "rollouts-demo",
        "kostiscodefresh/summer-of-k8s-app:v2",
    )
    .await;
    support::kube::until(
        &server,
        &controller,
        name,
        "paused at 30%, verified",
        |r, _| {
            r["status"]["phase"] == "Paused"
                && r["status"]["canary"]["weights"]["canary"]["weight"] == 30
                && r["status"]["canary"]["weights"]["verified"] == true
        },
    )
    .await;
    let routes = weir.admin_json("/routes").await;
    let served = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("default/{ROUTE}:")))
        })
        .unwrap_or_else(|| panic!("{routes}"))
        .clone();
    let weights: Vec<i64> = served["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["weight"].as_i64().unwrap())
        .collect();
    assert_eq!(weights, [70, 30], "{served}");
    let client = Client::http1();
    let mut on_canary = 0;
    for _ in 0..400 {
        let o = get(&client, &weir).await;
        assert_eq!(o.status, 200, "{o:?}");
        on_canary += u64::from(o.backend.as_deref() == Some("canary"));
    }
    support::assert_binomial("canary at 30% through the Gateway", on_canary, 400, 0.3);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_header_and_query_matches_pick_the_rule() {
    // The Gateway API's precedence among rules of equal paths: a method first, then more
    // header matches, then more query matches; everything else to the plain rule.
    let (server, weir, _stable, _canary) = started().await;
    let mut r = route(&server);
    let to = |service: &str| json!([{"name": service, "kind": "Service", "port": 80}]);
    r["spec"]["rules"] = json!([
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
         "backendRefs": to("argo-rollouts-stable-service")},
        {"matches": [
            {"path": {"type": "PathPrefix", "value": "/"},
             "headers": [{"name": "X-Canary", "value": "yes"}]},
            {"path": {"type": "PathPrefix", "value": "/"},
             "queryParams": [{"name": "canary", "type": "RegularExpression", "value": "1|true"}]},
            {"path": {"type": "PathPrefix", "value": "/"}, "method": "DELETE"},
            {"path": {"type": "RegularExpression", "value": "/v[0-9]+/.*"}},
         ],
         "backendRefs": to("argo-rollouts-canary-service")},
    ]);
    r["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    apply(&server, &r);
    let client = Client::http1();
    let send =
        |method: &'static str, path: &'static str, headers: Vec<(&'static str, &'static str)>| {
            let client = &client;
            let weir = &weir;
            async move {
                let mut b = hyper::Request::builder()
                    .method(method)
                    .uri(format!("http://{}{path}", weir.authority()))
                    .header("host", HOST);
                for (k, v) in headers {
                    b = b.header(k, v);
                }
                let o = client
                    .request(
                        b.body(http_body_util::Full::new(bytes::Bytes::new()))
                            .unwrap(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{e}\n{}", weir.logs()));
                o.backend
            }
        };
    until("the canary rule served", &weir, async || {
        send("GET", "/", vec![("x-canary", "yes")]).await.as_deref() == Some("canary")
    })
    .await;
    for (method, path, headers, expected) in [
        ("GET", "/", vec![], "stable"),
        ("GET", "/", vec![("x-canary", "no")], "stable"),
        ("GET", "/x", vec![("X-CANARY", "yes")], "canary"),
        ("GET", "/?canary=true&x=1", vec![], "canary"),
        ("GET", "/?canary=10", vec![], "stable"),
        ("GET", "/?x=1&canary=1", vec![], "canary"),
        ("DELETE", "/", vec![], "canary"),
        ("POST", "/", vec![], "stable"),
        // A regular expression over the whole path, above any prefix.
        ("GET", "/v2/items", vec![], "canary"),
        ("GET", "/vx/items", vec![], "stable"),
        ("GET", "/api/v2/items", vec![], "stable"),
    ] {
        let what = format!("{method} {path} {headers:?}");
        assert_eq!(
            send(method, path, headers).await.as_deref(),
            Some(expected),
            "{what}"
        );
    }
    // Each match is a route of its own in `/routes`, its conditions shown.
    let routes = weir.admin_json("/routes").await;
    let shown: Vec<&Value> = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("default/{ROUTE}:1."))
        })
        .collect();
    assert_eq!(shown.len(), 4, "{routes}");
    assert_eq!(shown[3]["pathMatch"], "regex", "{routes}");
    assert_eq!(shown[2]["match"]["method"], "DELETE", "{routes}");
    server.shutdown();
}

/// One HTTP/1.1 request over a fresh connection (`connection: close`): the status and the
/// head's lines, lowercased names.
async fn raw_get(weir: &Weir, path: &str) -> (u16, Vec<(String, String)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(weir.authority())
        .await
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: {HOST}\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_an_invalid_backend_and_the_listener_status_over_real_traffic() {
    let (server, weir, _stable, _canary) = started().await;
    let mut r = route(&server);
    r["spec"]["rules"] = json!([
        {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {
            "hostname": "new.example.com", "statusCode": 301,
            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
         "filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {
            "add": [{"name": "x-served-by", "value": "weir"}]}}],
         "backendRefs": [
            {"name": "argo-rollouts-stable-service", "kind": "Service", "port": 80},
            {"name": "nowhere", "kind": "Service", "port": 80}]},
    ]);
    r["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    apply(&server, &r);
    until("the redirect served", &weir, async || {
        raw_get(&weir, "/old/page?x=1").await.0 == 301
    })
    .await;
    let (_, headers) = raw_get(&weir, "/old/page?x=1").await;
    // The listener's port is 80, http's own: not written.
    assert_eq!(
        header(&headers, "location"),
        Some("http://new.example.com/new?x=1"),
        "{headers:?}"
    );

    // Half the /api share goes to a Service that does not exist: 500, never spilled to
    // the stable one; the rest is served, with the response header added.
    let (mut ok, mut invalid) = (0, 0);
    for _ in 0..40 {
        let (status, headers) = raw_get(&weir, "/api").await;
        match status {
            200 => {
                assert_eq!(header(&headers, "x-served-by"), Some("weir"), "{headers:?}");
                ok += 1;
            }
            500 => {
                assert_eq!(
                    header(&headers, "x-weir-error"),
                    Some("invalid_backend"),
                    "{headers:?}"
                );
                invalid += 1;
            }
            other => panic!("{other}: {headers:?}\n{}", weir.logs()),
        }
    }
    assert!(ok > 0 && invalid > 0, "{ok} served, {invalid} invalid");

    // The statuses: the route's ResolvedRefs says which reference failed; the listener
    // counts the route and is programmed.
    until("statuses written", &weir, async || {
        let r = route(&server);
        let gw = server.get(GROUP, "Gateway", "default", "eg").unwrap();
        condition(&r["status"]["parents"][0]["conditions"], "ResolvedRefs")["status"] == "False"
            && gw["status"]["listeners"][0]["attachedRoutes"] == 1
    })
    .await;
    let r = route(&server);
    let resolved = condition(&r["status"]["parents"][0]["conditions"], "ResolvedRefs");
    assert_eq!(resolved["reason"], "BackendNotFound", "{resolved}");
    let gw = server.get(GROUP, "Gateway", "default", "eg").unwrap();
    let listener = &gw["status"]["listeners"][0];
    assert_eq!(listener["name"], "http");
    assert_eq!(
        condition(&listener["conditions"], "Programmed")["status"],
        "True"
    );
    assert_eq!(
        listener["supportedKinds"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}])
    );
    // `/routes` names the HTTPRoute and the Gateway it reflects, at their versions (the
    // status writes move them; the table catches up).
    until("the objects' versions reflected", &weir, async || {
        let routes = weir.admin_json("/routes").await;
        let reflected = &routes["sources"]["kubernetes"];
        let r = route(&server);
        let gw = server.get(GROUP, "Gateway", "default", "eg").unwrap();
        reflected["httproutes"][format!("default/{ROUTE}")] == r["metadata"]["resourceVersion"]
            && reflected["gateways"]["default/eg"] == gw["metadata"]["resourceVersion"]
    })
    .await;
    server.shutdown();
}

/// An HTTPS listener: its `certificateRefs` Secret is served on the proxy's TLS listener
/// by SNI, and a route attached only to it is served over TLS and not over plain HTTP; a
/// listener whose Secret is missing says so and serves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_listener_serves_its_certificate_and_its_routes_over_tls_only() {
    let server = ApiServer::start(Options {
        endpointslice_controller: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let backend = Backend::start("secure").await;
    server.apply_yaml(&service("secure")).unwrap();
    apply(&server, &slice("secure", &backend));
    let site = rcgen::generate_simple_self_signed(vec!["secure.test".to_string()]).unwrap();
    apply(
        &server,
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "site-tls", "namespace": "default"},
            "stringData": {"tls.crt": site.cert.pem(), "tls.key": site.signing_key.serialize_pem()}}),
    );
    apply(
        &server,
        &json!({"apiVersion": GROUP, "kind": "GatewayClass", "metadata": {"name": "weir"},
            "spec": {"controllerName": "weir.dev/gateway-controller"}}),
    );
    apply(
        &server,
        &json!({"apiVersion": GROUP, "kind": "Gateway", "metadata": {"name": "edge", "namespace": "default"},
        "spec": {"gatewayClassName": "weir", "listeners": [
            {"name": "http", "protocol": "HTTP", "port": 80},
            {"name": "https", "protocol": "HTTPS", "port": 443,
             "tls": {"certificateRefs": [{"name": "site-tls"}]}},
            {"name": "broken", "protocol": "HTTPS", "port": 8443, "hostname": "broken.test",
             "tls": {"certificateRefs": [{"name": "missing-tls"}]}},
        ]}}),
    );
    apply(
        &server,
        &json!({"apiVersion": GROUP, "kind": "HTTPRoute", "metadata": {"name": "secure", "namespace": "default"},
            "spec": {"parentRefs": [{"name": "edge", "sectionName": "https"}],
                "hostnames": ["secure.test"],
                "rules": [{"backendRefs": [{"name": "secure", "port": 80}]}]}}),
    );
    let (default_cert, default_key, _) = support::raw::tls_files();
    let config = "\
listeners:
  - address: 127.0.0.1:0
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
    let (plain, tls) = (weir.listeners[0], weir.listeners[1]);
    // The Secret's certificate for the route's host, once the proxy has read it.
    support::raw::until_certificate_served(tls, "secure.test", site.cert.der(), || weir.logs())
        .await;
    let client = Client::tls(tls, "secure.test", site.cert.der()).await;
    until("served over TLS", &weir, async || {
        client
            .get("secure.test", "/", &[])
            .await
            .is_ok_and(|o| o.backend.as_deref() == Some("secure"))
    })
    .await;
    // Not over plain HTTP: the route is attached to the HTTPS listener only.
    let o = Client::http1()
        .get(&plain.to_string(), "/", &[("host", "secure.test")])
        .await
        .unwrap();
    assert_eq!(o.status, 404, "{o:?}");

    until("listener statuses written", &weir, async || {
        let gw = server.get(GROUP, "Gateway", "default", "edge").unwrap();
        gw["status"]["listeners"]
            .as_array()
            .is_some_and(|l| l.len() == 3)
    })
    .await;
    let gw = server.get(GROUP, "Gateway", "default", "edge").unwrap();
    let listener = |name: &str| {
        gw["status"]["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()
            .clone()
    };
    let https = listener("https");
    assert_eq!(https["attachedRoutes"], 1, "{https}");
    assert_eq!(
        condition(&https["conditions"], "Programmed")["status"],
        "True"
    );
    let broken = listener("broken");
    let resolved = condition(&broken["conditions"], "ResolvedRefs");
    assert_eq!(resolved["status"], "False", "{broken}");
    assert_eq!(resolved["reason"], "InvalidCertificateRef", "{broken}");
    assert!(
        resolved["message"]
            .as_str()
            .unwrap()
            .contains("default/missing-tls"),
        "{broken}"
    );
    assert_eq!(
        condition(&broken["conditions"], "Programmed")["status"],
        "False"
    );
    support::kube::assert_calls_allowed_by(
        &server,
        "the proxy",
        &[include_str!("../deploy/proxy/clusterrole.yaml")],
    );
    server.shutdown();
}

/// The mesh profile, with the Gateway API plugin's Linkerd example: an HTTPRoute whose
/// parent is the Service `argo-rollouts-service` splits what weir forwards to that Service
/// (here from an Ingress) between the stable and canary Services, as the plugin moves its
/// weights; a header route sends its requests to the canary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_on_a_service_splits_what_weir_forwards_to_it() {
    let server = ApiServer::start(Options {
        endpointslice_controller: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    server
        .apply_yaml(include_str!(
            "../config/tests/data/gatewayapi-plugin-examples/linkerd/service.yaml"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    // The example's Service ports have no name: nor have their slices' ports.
    for (service, backend) in [
        ("argo-rollouts-stable-service", &stable),
        ("argo-rollouts-canary-service", &canary),
    ] {
        let mut s = slice(service, backend);
        s["ports"][0].as_object_mut().unwrap().remove("name");
        apply(&server, &s);
    }
    // The Service itself has no endpoint of its own here: every request weir forwards to
    // it must go through the route.
    server
        .apply_yaml(include_str!(
            "../config/tests/data/gatewayapi-plugin-examples/linkerd/httproute.yaml"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    apply(
        &server,
        &json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ingressClassName": "weir", "rules": [{"host": HOST, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "argo-rollouts-service", "port": {"number": 80}}}}]}}]}}),
    );
    let kubeconfig = server.kubeconfig();
    let weir = Weir::start_proxy_with_args(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
        &["--kubernetes", "--kubeconfig", "kubeconfig"],
        &[("kubeconfig", kubeconfig.as_bytes())],
    )
    .await;
    let client = Client::http1();
    // The example's backendRefs have no weight: 1 each.
    until("both sides served", &weir, async || {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            if let Ok(o) = client.get(&weir.authority(), "/", &[("host", HOST)]).await {
                seen.extend(o.backend);
            }
        }
        seen.len() == 2
    })
    .await;

    // The plugin moves the weights to 0/100, and adds its header route.
    let mut r = server
        .get(GROUP, "HTTPRoute", "default", "argo-rollouts-http-route")
        .unwrap();
    r["spec"]["rules"][0]["backendRefs"][0]["weight"] = json!(0);
    r["spec"]["rules"][0]["backendRefs"][1]["weight"] = json!(100);
    r["spec"]["rules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"matches": [{"path": {"type": "PathPrefix", "value": "/"},
            "headers": [{"name": "x-stable-please", "value": "1"}]}],
            "backendRefs": [{"group": "core", "kind": "Service", "name": "argo-rollouts-stable-service", "port": 80}]}));
    r["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    apply(&server, &r);
    until("all on the canary", &weir, async || {
        let mut all = true;
        for _ in 0..20 {
            let o = client.get(&weir.authority(), "/", &[("host", HOST)]).await;
            all &= o.is_ok_and(|o| o.backend.as_deref() == Some("canary"));
        }
        all
    })
    .await;
    for _ in 0..10 {
        let o = client
            .get(
                &weir.authority(),
                "/",
                &[("host", HOST), ("x-stable-please", "1")],
            )
            .await
            .unwrap();
        assert_eq!(o.backend.as_deref(), Some("stable"), "{o:?}");
    }
    // weir answers for the route on the Service in its status.
    until("the mesh route's status", &weir, async || {
        let r = server
            .get(GROUP, "HTTPRoute", "default", "argo-rollouts-http-route")
            .unwrap();
        r["status"]["parents"].as_array().is_some_and(|p| {
            p.iter().any(|p| {
                p["controllerName"] == "weir.dev/gateway-controller"
                    && condition(&p["conditions"], "Accepted")["status"] == "True"
                    && condition(&p["conditions"], "ResolvedRefs")["status"] == "True"
            })
        })
    })
    .await;
    server.shutdown();
}
