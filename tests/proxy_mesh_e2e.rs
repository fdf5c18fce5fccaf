//! The Gateway API's mesh profile applied in full by `weir proxy --kubernetes`, against the
//! in-memory API server with real backends on loopback: an HTTPRoute whose parent is the
//! Service an Ingress forwards to, with a path-prefix rule, a rule on two headers, a
//! query-parameter rule splitting 50/50 with header filters, a rule whose only backend
//! weighs 0, one whose backendRef does not resolve, a redirect and a rewrite; what no rule
//! matches still goes to the Service itself.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::backend::Backend;
use support::client::Client;
use support::weir::Weir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_apiserver_sim::{ApiServer, Options};

const HOST: &str = "mesh.example.com";
const GROUP: &str = "gateway.networking.k8s.io/v1";

fn apply(server: &ApiServer, v: &Value) {
    server
        .apply_yaml(&serde_json::to_string(v).unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A Service `name` with port `http` 80, and its EndpointSlice to `backend`.
fn service(server: &ApiServer, name: &str, backend: &Backend) {
    apply(
        server,
        &json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
    );
    apply(
        server,
        &json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{name}-abcde"), "namespace": "default",
                "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": backend.addr.port(), "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}]}),
    );
}

fn backend_ref(name: &str, weight: i64) -> Value {
    json!({"group": "", "kind": "Service", "name": name, "port": 80, "weight": weight})
}

async fn until(what: &str, weir: &Weir, check: impl AsyncFnMut() -> bool) {
    let mut check = check;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "never {what}\n{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One GET of `path` with `headers`, its answer's head (lowercase) as text: for the
/// response headers, which the shared client does not keep.
async fn head(weir: &Weir, path: &str, headers: &[(&str, &str)]) -> String {
    let mut s = tokio::net::TcpStream::connect(weir.authority())
        .await
        .unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: {HOST}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_route_routes_by_path_headers_and_query_with_weights_and_filters() {
    let server = ApiServer::start(Options {
        endpointslice_controller: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let web = Backend::start("web").await;
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let c = Backend::start("c").await;
    for (name, backend) in [("web", &web), ("a", &a), ("b", &b), ("c", &c)] {
        service(&server, name, backend);
    }
    apply(
        &server,
        &json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "front", "namespace": "default"},
            "spec": {"ingressClassName": "weir", "rules": [{"host": HOST, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
    );
    apply(
        &server,
        &json!({"apiVersion": GROUP, "kind": "HTTPRoute",
        "metadata": {"name": "web-mesh", "namespace": "default"},
        "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "web", "port": 80}],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                 "backendRefs": [backend_ref("a", 1)]},
                {"matches": [{"headers": [
                    {"name": "x-one", "value": "1"},
                    {"name": "x-two", "type": "RegularExpression", "value": "tw?o"}]}],
                 "backendRefs": [backend_ref("b", 1)]},
                {"matches": [{"queryParams": [{"name": "split", "value": "yes"}]}],
                 "backendRefs": [backend_ref("b", 50), backend_ref("c", 50)],
                 "filters": [
                    {"type": "RequestHeaderModifier",
                     "requestHeaderModifier": {"set": [{"name": "x-rule", "value": "split"}]}},
                    {"type": "ResponseHeaderModifier",
                     "responseHeaderModifier": {"add": [{"name": "x-mesh", "value": "split"}]}}]},
                {"matches": [{"path": {"type": "Exact", "value": "/zero"}}],
                 "backendRefs": [backend_ref("a", 0)]},
                {"matches": [{"path": {"type": "Exact", "value": "/broken"}}],
                 "backendRefs": [backend_ref("missing", 1)]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
                 "filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301,
                    "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/rw"}}],
                 "filters": [{"type": "URLRewrite", "urlRewrite": {
                    "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/inner"}}}],
                 "backendRefs": [backend_ref("c", 1)]},
            ]}}),
    );
    let kubeconfig = server.kubeconfig();
    let weir = Weir::start_proxy_with_args(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
        &["--kubernetes", "--kubeconfig", "kubeconfig"],
        &[("kubeconfig", kubeconfig.as_bytes())],
    )
    .await;
    let client = Client::http1();
    let get = async |path: &str, headers: &[(&str, &str)]| {
        let mut all = vec![("host", HOST)];
        all.extend_from_slice(headers);
        client
            .get(&weir.authority(), path, &all)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", weir.logs()))
    };
    until("the mesh route applied", &weir, async || {
        get("/api/x", &[]).await.backend.as_deref() == Some("a")
    })
    .await;

    // The path prefix, by whole segments.
    for path in ["/api", "/api/x", "/api/x?split=no"] {
        assert_eq!(get(path, &[]).await.backend.as_deref(), Some("a"), "{path}");
    }
    // No rule matches: the Service itself.
    for (path, headers) in [
        ("/", &[][..]),
        ("/apix", &[][..]),
        ("/", &[("x-one", "1")][..]),
        ("/", &[("x-one", "1"), ("x-two", "three")][..]),
        ("/?split=yes2", &[][..]),
    ] {
        let o = get(path, headers).await;
        assert_eq!(
            o.backend.as_deref(),
            Some("web"),
            "{path} {headers:?}: {o:?}"
        );
    }
    // Both headers: b.
    for x_two in ["two", "to"] {
        let o = get("/", &[("x-one", "1"), ("X-Two", x_two)]).await;
        assert_eq!(o.backend.as_deref(), Some("b"), "{o:?}");
    }
    // Precedence: a longer path beats conditions; two headers beat one query parameter.
    let o = get("/api/v1?split=yes", &[("x-one", "1"), ("x-two", "two")]).await;
    assert_eq!(o.backend.as_deref(), Some("a"), "{o:?}");
    for _ in 0..20 {
        let o = get("/?split=yes", &[("x-one", "1"), ("x-two", "two")]).await;
        assert_eq!(o.backend.as_deref(), Some("b"), "{o:?}");
    }

    // The query rule splits 50/50 between b and c, as the conformance suite checks a
    // split: 500 requests, 10 in flight, a binomial band.
    const N: usize = 500;
    let outcomes: Vec<_> = {
        use futures_util::StreamExt;
        let (client, authority) = (client.clone(), weir.authority());
        futures_util::stream::iter(0..N)
            .map(|_| {
                let (client, authority) = (client.clone(), authority.clone());
                async move {
                    client
                        .get(&authority, "/?split=yes", &[("host", HOST)])
                        .await
                        .unwrap()
                }
            })
            .buffer_unordered(10)
            .collect()
            .await
    };
    let by = support::client::count_by_backend(&outcomes);
    assert!(support::client::failures(&outcomes).is_empty());
    assert_eq!(by.get("web"), None, "{by:?}");
    assert_eq!(
        by.get("b").copied().unwrap_or(0) + by.get("c").copied().unwrap_or(0),
        N as u64
    );
    support::assert_binomial("b of the split", by["b"], N as u64, 0.5);
    // The rule's filters: the request header set, the response header added.
    let answer = head(&weir, "/?split=yes", &[]).await;
    assert!(answer.contains("\r\nx-mesh: split"), "{answer}");
    let seen = [&b, &c]
        .iter()
        .find_map(|x| x.last_headers.lock().get("x-rule").cloned());
    assert_eq!(seen.unwrap(), "split");
    assert!(web.last_headers.lock().get("x-rule").is_none());
    let answer = head(&weir, "/", &[]).await;
    assert!(
        !answer.contains("x-mesh"),
        "only the rule's requests: {answer}"
    );

    // Weight 0 everywhere: 503 and nothing dialled. An unresolved backendRef: 500.
    let a_hits = a.hits();
    let o = get("/zero", &[]).await;
    assert_eq!(o.status, 503, "{o:?}");
    assert_eq!(a.hits(), a_hits);
    let o = get("/broken", &[]).await;
    assert_eq!(o.status, 500, "{o:?}");
    assert_eq!(o.weir_error.as_deref(), Some("invalid_backend"), "{o:?}");

    // A rule's redirect and rewrite replace the prefix its own match matched.
    let answer = head(&weir, "/old/page?x=1", &[]).await;
    assert!(answer.starts_with("http/1.1 301"), "{answer}");
    assert!(
        answer.contains("\r\nlocation: http://mesh.example.com/new/page?x=1"),
        "{answer}"
    );
    let o = get("/rw/page", &[]).await;
    assert_eq!(o.backend.as_deref(), Some("c"), "{o:?}");
    assert_eq!(c.last_uri.lock().path(), "/inner/page");

    // The proxy shows the rules on the route; the status names nothing as not applied and
    // the missing Service as unresolved.
    let routes = weir.admin_json("/routes").await;
    let route = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rules"].is_array())
        .unwrap_or_else(|| panic!("{routes}"));
    assert_eq!(route["rules"].as_array().unwrap().len(), 7, "{route}");
    assert_eq!(
        route["rules"][2]["backends"],
        json!([{"service": "default/b:80", "weight": 5000}, {"service": "default/c:80", "weight": 5000}])
    );
    until("the mesh route's status", &weir, async || {
        let r = server
            .get(GROUP, "HTTPRoute", "default", "web-mesh")
            .unwrap();
        r["status"]["parents"].as_array().is_some_and(|p| {
            p.iter().any(|p| {
                let condition = |kind: &str| {
                    p["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|c| c["type"] == kind)
                        .cloned()
                        .unwrap_or_default()
                };
                p["controllerName"] == "weir.dev/gateway-controller"
                    && condition("Accepted")["status"] == "True"
                    && condition("Accepted")["message"] == "Route is accepted"
                    && condition("ResolvedRefs")["status"] == "False"
                    && condition("ResolvedRefs")["reason"] == "BackendNotFound"
            })
        })
    })
    .await;
    server.shutdown();
}
