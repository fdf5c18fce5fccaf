//! Tests of the Gateway API filters: path rewrites, redirect locations, header modifiers.

use super::*;

#[test]
fn replace_prefix_match_follows_the_gateway_api() {
    // (path, route prefix, replacement, expected): the Gateway API's HTTPPathModifier
    // table, and a few more.
    for (path, prefix, replacement, want) in [
        ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
        ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
        ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
        ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
        ("/foo", "/foo", "/xyz", "/xyz"),
        ("/foo/", "/foo", "/xyz", "/xyz/"),
        ("/foo/bar", "/foo", "", "/bar"),
        ("/foo/", "/foo", "", "/"),
        ("/foo", "/foo", "", "/"),
        ("/foo/", "/foo", "/", "/"),
        ("/foo", "/foo", "/", "/"),
        ("/foo/baz", "/foo", "/", "/baz"),
        ("/foo/baz", "/foo", "/bar", "/bar/baz"),
        ("/foo", "/foo", "/bar", "/bar"),
        ("/foo/", "/foo", "/bar", "/bar/"),
        ("/foo/baz", "/foo/", "/bar", "/bar/baz"),
        ("/foo/a/b", "/foo/a", "/x", "/x/b"),
        // The root prefix: everything is under it.
        ("/", "/", "/api", "/api/"),
        ("/x/y", "/", "/api", "/api/x/y"),
        ("/x", "/", "/", "/x"),
        // `pathMatch: prefix` matches within a segment.
        ("/foox", "/foo", "/bar", "/barx"),
        ("/foox", "/foo", "/", "/x"),
        // Not matched (a caller's bug): left alone.
        ("/other", "/foo", "/bar", "/other"),
    ] {
        assert_eq!(
            replace_prefix(path, prefix, replacement),
            want,
            "{path} with prefix {prefix} replaced by {replacement:?}"
        );
    }
}

fn redirect(yaml: serde_json::Value) -> Redirect {
    Redirect::compile(&serde_json::from_value(yaml).unwrap()).unwrap()
}

#[test]
fn the_location_takes_scheme_host_port_and_path_by_the_gateway_api_rules() {
    let plain = false;
    let tls = true;
    let q = Some("a=1&b=2");
    // (redirect, tls, request host, request port, path, query, expected)
    type Case<'a> = (
        serde_json::Value,
        bool,
        Option<&'a str>,
        Option<u16>,
        &'a str,
        Option<&'a str>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        // Nothing given: the request's own, on the connection's scheme.
        (
            json!({}),
            plain,
            Some("a.example"),
            None,
            "/p",
            q,
            "http://a.example/p?a=1&b=2",
        ),
        (
            json!({}),
            tls,
            Some("a.example"),
            None,
            "/p",
            None,
            "https://a.example/p",
        ),
        // The request's port is kept when no scheme is given...
        (
            json!({}),
            plain,
            Some("a.example"),
            Some(8080),
            "/p",
            None,
            "http://a.example:8080/p",
        ),
        (
            json!({"hostname": "b.example"}),
            plain,
            Some("a.example"),
            Some(8080),
            "/p",
            None,
            "http://b.example:8080/p",
        ),
        // ...but left out when it is the scheme's default.
        (
            json!({}),
            plain,
            Some("a.example"),
            Some(80),
            "/p",
            None,
            "http://a.example/p",
        ),
        (
            json!({}),
            tls,
            Some("a.example"),
            Some(443),
            "/p",
            None,
            "https://a.example/p",
        ),
        (
            json!({}),
            tls,
            Some("a.example"),
            Some(80),
            "/p",
            None,
            "https://a.example:80/p",
        ),
        // A scheme given: its default port, not the request's.
        (
            json!({"scheme": "https"}),
            plain,
            Some("a.example"),
            Some(8080),
            "/p",
            q,
            "https://a.example/p?a=1&b=2",
        ),
        (
            json!({"scheme": "http"}),
            tls,
            Some("a.example"),
            Some(8443),
            "/p",
            None,
            "http://a.example/p",
        ),
        // A port given: always used, unless it is the scheme's default.
        (
            json!({"scheme": "https", "port": 8443}),
            plain,
            Some("a.example"),
            None,
            "/p",
            None,
            "https://a.example:8443/p",
        ),
        (
            json!({"scheme": "https", "port": 443}),
            plain,
            Some("a.example"),
            Some(8080),
            "/p",
            None,
            "https://a.example/p",
        ),
        (
            json!({"port": 80}),
            plain,
            Some("a.example"),
            Some(8080),
            "/p",
            None,
            "http://a.example/p",
        ),
        (
            json!({"port": 9000}),
            tls,
            Some("a.example"),
            None,
            "/p",
            None,
            "https://a.example:9000/p",
        ),
        (
            json!({"hostname": "b.example", "port": 8081}),
            plain,
            Some("a.example"),
            Some(8080),
            "/p",
            None,
            "http://b.example:8081/p",
        ),
        // Paths: the full path replaced, or the prefix the route matched.
        (
            json!({"path": {"replaceFullPath": "/new"}}),
            plain,
            Some("a.example"),
            None,
            "/api/x",
            q,
            "http://a.example/new?a=1&b=2",
        ),
        (
            json!({"path": {"replacePrefixMatch": "/v2"}}),
            plain,
            Some("a.example"),
            None,
            "/api/x",
            None,
            "http://a.example/v2/x",
        ),
        (
            json!({"path": {"replacePrefixMatch": "/"}}),
            plain,
            Some("a.example"),
            None,
            "/api",
            None,
            "http://a.example/",
        ),
        // IPv6 literals keep their brackets.
        (
            json!({}),
            plain,
            Some("[::1]"),
            Some(8080),
            "/p",
            None,
            "http://[::1]:8080/p",
        ),
        // No host at all (an HTTP/1.0 request without one): the path alone.
        (
            json!({"scheme": "https"}),
            plain,
            None,
            None,
            "/p",
            q,
            "/p?a=1&b=2",
        ),
    ];
    for (given, tls, host, port, path, query, want) in cases {
        let r = redirect(given.clone());
        assert_eq!(
            r.location_for(tls, host, port, path, query, "/api"),
            want,
            "{given} tls={tls} host={host:?} port={port:?} {path} {query:?}"
        );
    }
}

#[test]
fn the_location_reads_the_host_header_or_the_authority() {
    let r = redirect(json!({"statusCode": 301}));
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(redirect(json!({})).status, StatusCode::FOUND);
    let h1 = http::Request::get("/a/b?x=1")
        .header("host", "Shop.Example:8080")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert_eq!(
        r.location(&h1, false, "/"),
        "http://Shop.Example:8080/a/b?x=1"
    );
    let h2 = http::Request::get("https://shop.example/a")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert_eq!(r.location(&h2, true, "/"), "https://shop.example/a");
    let none = http::Request::get("/a").body(()).unwrap().into_parts().0;
    assert_eq!(r.location(&none, false, "/"), "/a");
}

fn modifier(set: &[(&str, &str)], add: &[(&str, &str)], remove: &[&str]) -> HeaderModifier {
    let own = |l: &[(&str, &str)]| {
        l.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    HeaderModifier::compile(&cfg::HeaderModifier {
        set: own(set),
        add: own(add),
        remove: remove.iter().map(|s| s.to_string()).collect(),
    })
    .unwrap()
    .unwrap()
}

fn values<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    h.get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[test]
fn header_modifiers_set_add_and_remove_case_insensitively() {
    let mut h = HeaderMap::new();
    h.append("x-set", "old-1".parse().unwrap());
    h.append("x-set", "old-2".parse().unwrap());
    h.append("x-add", "kept".parse().unwrap());
    h.append("x-gone", "1".parse().unwrap());
    h.append("x-gone", "2".parse().unwrap());
    h.append("x-other", "untouched".parse().unwrap());
    let m = modifier(
        &[("X-Set", "new"), ("x-fresh", "f")],
        &[("X-ADD", "more"), ("x-new-add", "n")],
        &["X-Gone", "x-absent"],
    );
    m.apply(&mut h);
    assert_eq!(values(&h, "x-set"), ["new"]);
    assert_eq!(values(&h, "x-fresh"), ["f"]);
    assert_eq!(values(&h, "x-add"), ["kept", "more"]);
    assert_eq!(values(&h, "x-new-add"), ["n"]);
    assert!(values(&h, "x-gone").is_empty());
    assert_eq!(values(&h, "x-other"), ["untouched"]);
    assert_eq!(h.len(), 6, "{h:?}");
    // Remove comes first: a header both removed and added ends with the added value.
    let mut h = HeaderMap::new();
    h.append("x-a", "old".parse().unwrap());
    modifier(&[], &[("x-a", "new")], &["x-a"]).apply(&mut h);
    assert_eq!(values(&h, "x-a"), ["new"]);
    assert_eq!(
        m.describe(),
        json!({
            "set": {"x-fresh": "f", "x-set": "new"},
            "add": {"x-add": "more", "x-new-add": "n"},
            "remove": ["x-gone", "x-absent"],
        })
    );
}

#[test]
fn an_empty_modifier_compiles_to_nothing() {
    assert!(HeaderModifier::compile(&cfg::HeaderModifier::default())
        .unwrap()
        .is_none());
}

fn rewrite(yaml: serde_json::Value) -> Rewrite {
    Rewrite::compile(&serde_json::from_value(yaml).unwrap()).unwrap()
}

#[test]
fn a_rewrite_changes_host_and_path_and_keeps_the_query() {
    let r = rewrite(json!({"hostname": "internal.example", "path": {"replacePrefixMatch": "/"}}));
    let mut h1 = http::Request::get("/api/users?id=7")
        .header("host", "public.example")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    r.apply(&mut h1, "/api");
    assert_eq!(h1.uri, "/users?id=7");
    assert_eq!(h1.headers["host"], "internal.example");
    // HTTP/2: the authority too.
    let mut h2 = http::Request::get("http://public.example:8080/api")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    r.apply(&mut h2, "/api/");
    assert_eq!(h2.uri, "http://internal.example/");
    assert_eq!(h2.headers["host"], "internal.example");
    // A full path; no hostname leaves the host alone.
    let full = rewrite(json!({"path": {"replaceFullPath": "/fixed"}}));
    let mut p = http::Request::get("/anything/else?q")
        .header("host", "public.example")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    full.apply(&mut p, "/");
    assert_eq!(p.uri, "/fixed?q");
    assert_eq!(p.headers["host"], "public.example");
    assert_eq!(
        r.describe(),
        json!({"hostname": "internal.example", "path": {"replacePrefixMatch": "/"}})
    );
}
