//! The Gateway API's HTTPRoute filters on weir's routes, end to end over real sockets with
//! the real `weir` binary: request and response header modifiers (over weir's own HTTP/1.1
//! server, hyper's h2c server, and HTTP/1.1 and h2c upstreams), redirects answered by the
//! proxy (plain and TLS), URL rewrites as the backend sees them, and a service marked
//! `invalid` whose share answers 500 without spilling.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Request};
use support::raw::{read_answers, tls_connect, tls_files};
use support::{assert_binomial, Backend, Client, Weir};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const INVALID: &str = "Service apps/gone does not exist";

/// weir with a plain and a TLS listener in front of `app` (as an HTTP/1.1 service `app`
/// and an h2c one `app-h2`), with a route per filter.
async fn start(app: &Backend) -> Weir {
    let (cert, key, _) = tls_files();
    let yaml = format!(
        r#"listeners:
  - address: 127.0.0.1:0
  - address: 127.0.0.1:0
    tls:
      certificates:
        - {{cert: cert.pem, key: key.pem}}
admin:
  address: 127.0.0.1:0
services:
  app:
    endpoints: ["{addr}"]
  app-h2:
    endpoints: ["{addr}"]
    protocol: h2c
  gone:
    endpoints: []
    invalid: "{INVALID}"
routes:
  - name: headers
    pathPrefix: /headers
    requestHeaders:
      set: {{X-Set: new}}
      add: {{x-add: added}}
      remove: [X-Remove]
    responseHeaders:
      set: {{x-backend: masked}}
      add: {{X-Seen-Version: extra, x-added: "1"}}
      remove: [x-seen-host]
    backends: [{{service: app, weight: 1}}]
  - name: headers-h2
    pathPrefix: /h2up
    requestHeaders:
      set: {{X-Set: new}}
      add: {{x-add: added}}
      remove: [X-Remove]
    responseHeaders:
      set: {{x-backend: masked}}
      remove: [x-seen-host]
    backends: [{{service: app-h2, weight: 1}}]
  - name: broken
    pathPrefix: /broken
    responseHeaders:
      set: {{x-backend: masked}}
    backends: [{{service: gone, weight: 1}}]
  - name: plain
    pathPrefix: /plain
    backends: [{{service: app, weight: 1}}]
  - name: old
    pathPrefix: /old
    pathMatch: segments
    redirect: {{}}
  - name: moved
    pathPrefix: /moved
    pathMatch: segments
    redirect:
      scheme: https
      hostname: secure.test
      path: {{replacePrefixMatch: /new}}
      statusCode: 301
    responseHeaders:
      set: {{cache-control: no-store}}
  - name: ported
    pathPrefix: /ported
    pathMatch: segments
    redirect:
      port: 8443
      path: {{replaceFullPath: /landing}}
      statusCode: 308
  - name: api
    pathPrefix: /api
    pathMatch: segments
    rewrite:
      hostname: internal.test
      path: {{replacePrefixMatch: /v2}}
    backends: [{{service: app, weight: 1}}]
  - name: api-h2
    pathPrefix: /h2api
    pathMatch: segments
    rewrite:
      hostname: internal.test
      path: {{replacePrefixMatch: /}}
    backends: [{{service: app-h2, weight: 1}}]
  - name: fixed
    pathPrefix: /fixed
    pathMatch: segments
    rewrite:
      path: {{replaceFullPath: /landing}}
    backends: [{{service: app, weight: 1}}]
  - name: split
    pathPrefix: /split
    backends:
      - {{service: app, weight: 50}}
      - {{service: gone, weight: 50}}
    headerRoutes:
      - name: to-gone
        match: [{{headerName: x-gone, headerValue: {{exact: "1"}}}}]
        backend: gone
"#,
        addr = app.addr
    );
    Weir::start_with_files(
        &yaml,
        &[("cert.pem", cert.as_bytes()), ("key.pem", key.as_bytes())],
    )
    .await
}

/// An answer with all its headers.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// GET `path` through `client` (HTTP/1.1 or h2c) with `headers`.
async fn get(client: &Client, weir: &Weir, path: &str, headers: &[(&str, &str)]) -> Answer {
    let (Client::Http1(c) | Client::H2c(c)) = client else {
        unreachable!("plain clients only")
    };
    let mut b = Request::get(format!("http://{}{path}", weir.authority()));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = c
        .request(b.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:?}\n{}", weir.logs()));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// The header lines of a raw HTTP/1.1 answer, names lowercased.
fn raw_lines(answer: &str) -> Vec<(String, String)> {
    let head = answer.split("\r\n\r\n").next().unwrap();
    head.lines()
        .skip(1)
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_string())
        })
        .collect()
}

fn raw_all<'a>(lines: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Requests written as they are on a plain connection to weir's own HTTP/1.1 server; the
/// raw answers.
async fn raw_plain(weir: &Weir, requests: &str, n: usize) -> Vec<String> {
    let mut s = TcpStream::connect(weir.listeners[0]).await.unwrap();
    s.write_all(requests.as_bytes()).await.unwrap();
    read_answers(&mut s, n, false).await
}

/// The same over TLS (ALPN `http/1.1`: weir's own HTTP/1.1 server).
async fn raw_tls(weir: &Weir, requests: &str, n: usize) -> Vec<String> {
    let tcp = TcpStream::connect(weir.listeners[1]).await.unwrap();
    let h11: &[u8] = b"http/1.1";
    let mut s = tls_connect(tcp, "localhost", &tls_files().2, &[h11], Some(h11)).await;
    s.write_all(requests.as_bytes()).await.unwrap();
    read_answers(&mut s, n, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_headers_are_set_added_and_removed_before_the_backend_sees_them() {
    let app = Backend::start("app").await;
    let weir = start(&app).await;
    let sent = [
        ("x-set", "old-1"),
        ("X-SET", "old-2"),
        ("x-add", "mine"),
        ("x-remove", "secret-1"),
        ("X-Remove", "secret-2"),
        ("x-keep", "yes"),
    ];
    for (client, kind) in [(Client::http1(), "HTTP/1.1"), (Client::h2c(), "h2c")] {
        for (path, upstream) in [("/headers/a", "HTTP/1.1"), ("/h2up/a", "HTTP/2.0")] {
            let a = get(&client, &weir, path, &sent).await;
            assert_eq!(a.status, 200, "{kind} {path}");
            assert_eq!(a.one("x-seen-version"), Some(upstream), "{kind} {path}");
            let h = app.last_headers.lock().clone();
            let all = |n: &str| {
                h.get_all(n)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            };
            let what = format!("{kind} client, {upstream} upstream: {h:?}");
            assert_eq!(all("x-set"), ["new"], "{what}");
            assert_eq!(all("x-add"), ["mine", "added"], "{what}");
            assert!(all("x-remove").is_empty(), "{what}");
            assert_eq!(all("x-keep"), ["yes"], "{what}");
            // weir's own additions are still there.
            assert_eq!(all("x-forwarded-proto"), ["http"], "{what}");
        }
    }
    // A route without the filter passes the client's headers on as they were.
    get(&Client::http1(), &weir, "/plain", &sent).await;
    let h = app.last_headers.lock().clone();
    assert_eq!(h.get_all("x-set").iter().count(), 2, "{h:?}");
    assert_eq!(h.get_all("x-remove").iter().count(), 2, "{h:?}");
    assert_eq!(h.get_all("x-add").iter().count(), 1, "{h:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_headers_are_changed_over_weirs_http1_server_and_h2c() {
    let app = Backend::start("app").await;
    let weir = start(&app).await;
    // weir's own HTTP/1.1 server, pipelined: a filtered answer between two unfiltered ones
    // (which go the raw-header way), each framed right.
    let answers = raw_plain(
        &weir,
        "GET /plain HTTP/1.1\r\nhost: a\r\n\r\n\
         GET /headers/x HTTP/1.1\r\nhost: a\r\n\r\n\
         GET /plain HTTP/1.1\r\nhost: a\r\n\r\n",
        3,
    )
    .await;
    for (i, a) in answers.iter().enumerate() {
        assert!(a.starts_with("HTTP/1.1 200 OK\r\n"), "{a}");
        assert!(a.ends_with("\r\n\r\napp"), "{a}");
        let lines = raw_lines(a);
        assert_eq!(raw_all(&lines, "content-length"), ["3"], "{a}");
        assert_eq!(raw_all(&lines, "date").len(), 1, "{a}");
        if i == 1 {
            assert_eq!(raw_all(&lines, "x-backend"), ["masked"], "{a}");
            assert_eq!(
                raw_all(&lines, "x-seen-version"),
                ["HTTP/1.1", "extra"],
                "{a}"
            );
            assert_eq!(raw_all(&lines, "x-added"), ["1"], "{a}");
            assert!(raw_all(&lines, "x-seen-host").is_empty(), "{a}");
        } else {
            assert_eq!(raw_all(&lines, "x-backend"), ["app"], "{a}");
            assert_eq!(raw_all(&lines, "x-seen-version"), ["HTTP/1.1"], "{a}");
            assert_eq!(raw_all(&lines, "x-seen-host"), ["a"], "{a}");
            assert!(raw_all(&lines, "x-added").is_empty(), "{a}");
        }
    }
    // And over TLS, still weir's own server.
    let a = &raw_tls(&weir, "GET /headers/x HTTP/1.1\r\nhost: a\r\n\r\n", 1).await[0];
    let lines = raw_lines(a);
    assert_eq!(raw_all(&lines, "x-backend"), ["masked"], "{a}");
    assert!(raw_all(&lines, "x-seen-host").is_empty(), "{a}");
    // hyper's servers (h2c) and HTTP/1.1 through a client; both kinds of upstream.
    for (client, kind) in [(Client::http1(), "HTTP/1.1"), (Client::h2c(), "h2c")] {
        let a = get(&client, &weir, "/headers/x", &[]).await;
        assert_eq!(a.status, 200, "{kind}");
        assert_eq!(&a.body[..], b"app", "{kind}");
        assert_eq!(a.all("x-backend"), ["masked"], "{kind}");
        assert_eq!(a.all("x-seen-version"), ["HTTP/1.1", "extra"], "{kind}");
        assert_eq!(a.all("x-added"), ["1"], "{kind}");
        assert!(a.all("x-seen-host").is_empty(), "{kind}");
        let a = get(&client, &weir, "/h2up/x", &[]).await;
        assert_eq!(a.all("x-backend"), ["masked"], "{kind}, h2c upstream");
        assert_eq!(
            a.all("x-seen-version"),
            ["HTTP/2.0"],
            "{kind}, h2c upstream"
        );
        assert!(a.all("x-seen-host").is_empty(), "{kind}, h2c upstream");
        let a = get(&client, &weir, "/plain", &[]).await;
        assert_eq!(a.all("x-backend"), ["app"], "{kind}");
        assert_eq!(a.all("x-seen-host").len(), 1, "{kind}");
    }
    // The proxy's own (error) answers are left alone.
    let a = get(&Client::http1(), &weir, "/broken", &[]).await;
    assert_eq!(a.status, 500);
    assert_eq!(a.one("x-weir-error"), Some("invalid_backend"));
    assert!(a.one("x-backend").is_none(), "{:?}", a.headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_answered_by_the_proxy_without_calling_a_backend() {
    let app = Backend::start("app").await;
    let weir = start(&app).await;
    let answers = raw_plain(
        &weir,
        "GET /old/x?q=1 HTTP/1.1\r\nhost: shop.test:8080\r\n\r\n\
         GET /old HTTP/1.1\r\nhost: Shop.test\r\n\r\n\
         POST /old/form HTTP/1.1\r\nhost: shop.test:80\r\ncontent-length: 5\r\n\r\nhello\
         GET /moved/a/b?x=y HTTP/1.1\r\nhost: shop.test:8080\r\n\r\n\
         GET /moved HTTP/1.1\r\nhost: shop.test\r\n\r\n\
         GET /ported/zzz?k=v HTTP/1.1\r\nhost: shop.test:8080\r\n\r\n\
         HEAD /old/h HTTP/1.1\r\nhost: shop.test\r\n\r\n",
        7,
    )
    .await;
    let expected = [
        ("302 Found", "http://shop.test:8080/old/x?q=1"),
        ("302 Found", "http://Shop.test/old"),
        ("302 Found", "http://shop.test/old/form"),
        ("301 Moved Permanently", "https://secure.test/new/a/b?x=y"),
        ("301 Moved Permanently", "https://secure.test/new"),
        (
            "308 Permanent Redirect",
            "http://shop.test:8443/landing?k=v",
        ),
        ("302 Found", "http://shop.test/old/h"),
    ];
    for (a, (status, location)) in answers.iter().zip(expected) {
        assert!(a.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{a}");
        let lines = raw_lines(a);
        assert_eq!(raw_all(&lines, "location"), [location], "{a}");
        // No body; an answer to HEAD says no length at all.
        let length = raw_all(&lines, "content-length");
        if location.ends_with("/old/h") {
            assert!(length.is_empty(), "{a}");
        } else {
            assert_eq!(length, ["0"], "{a}");
        }
        assert!(a.ends_with("\r\n\r\n"), "{a}");
        // The route's response header changes apply to its redirect too.
        let cache = raw_all(&lines, "cache-control");
        if location.contains("secure.test") {
            assert_eq!(cache, ["no-store"], "{a}");
        } else {
            assert!(cache.is_empty(), "{a}");
        }
    }
    // On a TLS connection the scheme is https, and 443 is its default port.
    let answers = raw_tls(
        &weir,
        "GET /old/x HTTP/1.1\r\nhost: shop.test\r\n\r\n\
         GET /old/x HTTP/1.1\r\nhost: shop.test:443\r\n\r\n\
         GET /old/x HTTP/1.1\r\nhost: shop.test:80\r\n\r\n\
         GET /ported HTTP/1.1\r\nhost: shop.test\r\n\r\n",
        4,
    )
    .await;
    let expected = [
        "https://shop.test/old/x",
        "https://shop.test/old/x",
        "https://shop.test:80/old/x",
        "https://shop.test:8443/landing",
    ];
    for (a, location) in answers.iter().zip(expected) {
        assert_eq!(raw_all(&raw_lines(a), "location"), [location], "{a}");
    }
    // Through hyper's servers: h2c sends the authority with the listener's port.
    for (client, kind) in [(Client::http1(), "HTTP/1.1"), (Client::h2c(), "h2c")] {
        let a = get(&client, &weir, "/moved/c?d=e", &[]).await;
        assert_eq!(a.status, 301, "{kind}");
        assert_eq!(a.one("location"), Some("https://secure.test/new/c?d=e"));
        assert_eq!(a.one("cache-control"), Some("no-store"));
        assert!(a.body.is_empty());
        let a = get(&client, &weir, "/old/y", &[]).await;
        assert_eq!(a.status, 302, "{kind}");
        let want = format!("http://{}/old/y", weir.authority());
        assert_eq!(a.one("location"), Some(want.as_str()), "{kind}");
    }
    assert_eq!(app.hits(), 0, "a redirect calls no backend");
    // The connection keeps serving after redirects: a proxied request on the same one.
    let answers = raw_plain(
        &weir,
        "GET /old HTTP/1.1\r\nhost: a\r\n\r\nGET /plain HTTP/1.1\r\nhost: a\r\n\r\n",
        2,
    )
    .await;
    assert!(answers[1].starts_with("HTTP/1.1 200 OK\r\n"), "{answers:?}");
    assert!(answers[1].ends_with("app"), "{answers:?}");
    assert_eq!(app.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrites_change_the_host_and_path_the_backend_sees() {
    let app = Backend::start("app").await;
    let weir = start(&app).await;
    for (client, kind) in [(Client::http1(), "HTTP/1.1"), (Client::h2c(), "h2c")] {
        // (path asked, path and query the backend gets, the host it gets)
        for (path, want, host) in [
            ("/api/users?id=7", "/v2/users?id=7", "internal.test"),
            ("/api", "/v2", "internal.test"),
            ("/api/", "/v2/", "internal.test"),
            ("/h2api/users?id=7", "/users?id=7", "internal.test"),
            ("/h2api", "/", "internal.test"),
            ("/fixed/any/thing?z=1", "/landing?z=1", ""),
        ] {
            let a = get(&client, &weir, path, &[]).await;
            assert_eq!(a.status, 200, "{kind} {path}");
            let uri = app.last_uri.lock().clone();
            let seen = uri.path_and_query().unwrap().as_str();
            assert_eq!(seen, want, "{kind} {path}: {uri}");
            // The host the backend was asked for: `host`, or the authority over h2c.
            let asked = a.one("x-seen-host").unwrap_or_default().to_string();
            if host.is_empty() {
                assert_eq!(asked, weir.authority(), "{kind} {path}");
            } else {
                assert_eq!(asked, host, "{kind} {path}");
            }
            if path.starts_with("/h2api") {
                assert_eq!(a.one("x-seen-version"), Some("HTTP/2.0"));
                assert_eq!(uri.authority().unwrap().as_str(), host, "{kind} {path}");
            } else {
                let h = app.last_headers.lock().clone();
                let sent: Vec<_> = h.get_all("host").iter().collect();
                assert_eq!(sent.len(), 1, "{h:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_backends_share_answers_500_and_never_spills() {
    let app = Backend::start("app").await;
    let weir = start(&app).await;
    let client = Client::http1();
    let n = 400;
    let (mut served, mut invalid) = (0u64, 0u64);
    for _ in 0..n {
        let a = get(&client, &weir, "/split", &[]).await;
        match a.status {
            200 => {
                assert_eq!(&a.body[..], b"app");
                served += 1;
            }
            500 => {
                assert_eq!(a.one("x-weir-error"), Some("invalid_backend"));
                let body = String::from_utf8_lossy(&a.body).to_string();
                assert!(body.contains(INVALID), "{body}");
                invalid += 1;
            }
            other => panic!("status {other}: {:?}", a.body),
        }
    }
    assert_binomial("the invalid backend's share", invalid, n, 0.5);
    assert_eq!(served + invalid, n);
    // Nothing spilled: the backend got exactly the requests it answered.
    assert_eq!(app.hits(), served);
    // A header route to it fails just the same, over h2c too.
    for client in [Client::http1(), Client::h2c()] {
        for _ in 0..10 {
            let a = get(&client, &weir, "/split", &[("x-gone", "1")]).await;
            assert_eq!(a.status, 500);
            assert_eq!(a.one("x-weir-error"), Some("invalid_backend"));
        }
    }
    assert_eq!(app.hits(), served);
    let errors = weir
        .metric("weir_upstream_errors_total{route=\"split\",backend=\"gone\",reason=\"invalid_backend\"}")
        .await;
    assert_eq!(errors, (invalid + 20) as f64);
    let answered = weir
        .metric("weir_requests_total{route=\"split\",backend=\"gone\",code=\"500\"}")
        .await;
    assert_eq!(answered, (invalid + 20) as f64);
    let spilled = weir
        .metric("weir_spilled_requests_total{route=\"split\",backend=\"gone\"}")
        .await;
    assert_eq!(spilled, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_show_the_filters_in_the_configurations_shape() {
    let app = Backend::start("app").await;
    let weir = start(&app).await;
    let routes = weir.admin_json("/routes").await;
    let route = |name: &str| {
        routes["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    let headers = route("headers");
    assert_eq!(
        headers["requestHeaders"],
        serde_json::json!({"set": {"x-set": "new"}, "add": {"x-add": "added"}, "remove": ["x-remove"]})
    );
    assert_eq!(
        headers["responseHeaders"],
        serde_json::json!({
            "set": {"x-backend": "masked"},
            "add": {"x-added": "1", "x-seen-version": "extra"},
            "remove": ["x-seen-host"],
        })
    );
    assert!(headers.get("redirect").is_none() && headers.get("rewrite").is_none());
    assert_eq!(
        route("moved")["redirect"],
        serde_json::json!({
            "scheme": "https", "hostname": "secure.test",
            "path": {"replacePrefixMatch": "/new"}, "statusCode": 301,
        })
    );
    assert_eq!(route("moved")["backends"], serde_json::json!([]));
    assert_eq!(
        route("old")["redirect"],
        serde_json::json!({"statusCode": 302})
    );
    assert_eq!(
        route("api")["rewrite"],
        serde_json::json!({"hostname": "internal.test", "path": {"replacePrefixMatch": "/v2"}})
    );
    let plain = route("plain");
    for field in ["requestHeaders", "responseHeaders", "redirect", "rewrite"] {
        assert!(plain.get(field).is_none(), "{field}: {plain}");
    }
    let split = route("split");
    assert_eq!(split["backends"][1]["service"], "gone");
    assert_eq!(split["backends"][1]["invalid"], INVALID);
    assert!(split["backends"][0].get("invalid").is_none());
}
