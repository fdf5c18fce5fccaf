use super::*;

fn text(host: Cow<'_, [u8]>) -> String {
    String::from_utf8(host.into_owned()).unwrap()
}

#[test]
fn the_host_loses_its_port_and_case_and_is_copied_only_to_lowercase_it() {
    let host = |raw: &'static str| host_without_port(raw.as_bytes()).unwrap();
    assert!(matches!(
        host("app.example.com"),
        Cow::Borrowed(b"app.example.com")
    ));
    assert!(matches!(
        host("127.0.0.1:28080"),
        Cow::Borrowed(b"127.0.0.1")
    ));
    assert_eq!(text(host("App.Example.COM:8443")), "app.example.com");
    assert!(matches!(host("App.example.com"), Cow::Owned(_)));
    assert_eq!(text(host("[::1]:8080")), "[::1]");
    assert_eq!(text(host("[::1]")), "[::1]");
    assert_eq!(text(host("")), "");
    assert!(host_without_port(b"caf\xc3\xa9.example").is_none());
    assert!(host_without_port(b"a\x7fb").is_none());
}

#[test]
fn without_a_usable_host_header_the_uri_authority_is_used() {
    let parts = |host: Option<&[u8]>| {
        let mut b = Request::get("http://From-Authority.example:80/x");
        if let Some(h) = host {
            b = b.header(header::HOST, HeaderValue::from_bytes(h).unwrap());
        }
        b.body(()).unwrap().into_parts().0
    };
    // HTTP/2 clients send `:authority` and no `host`.
    assert_eq!(text(request_host(&parts(None))), "from-authority.example");
    let with_host = parts(Some(b"Host.example:1"));
    assert_eq!(text(request_host(&with_host)), "host.example");
    // A host header that is not text: the authority.
    let not_text = parts(Some(b"h\xffst"));
    assert_eq!(text(request_host(&not_text)), "from-authority.example");
    let bare = Request::get("/").body(()).unwrap().into_parts().0;
    assert_eq!(text(request_host(&bare)), "");
}

fn request(raw_target: &str, version: Version, headers: &[(&str, &[u8])]) -> Parts {
    let mut b = Request::get(raw_target).version(version);
    for (k, v) in headers {
        b = b.header(*k, HeaderValue::from_bytes(v).unwrap());
    }
    b.body(()).unwrap().into_parts().0
}

fn refused(parts: &mut Parts) -> StatusCode {
    check_request(parts).expect_err("refused").status()
}

/// Issue 20, findings 5, 7, 8 and 9 as `check_request` decides them (the exact bytes
/// go through the real server in tests/http_conformance.rs).
#[test]
fn requests_are_checked_before_routing_as_rfc_9112_asks() {
    let v11 = Version::HTTP_11;
    // 5: more than one Host, same value or not.
    let mut two = request("/", v11, &[("host", b"a.test"), ("host", b"b.test")]);
    assert_eq!(refused(&mut two), StatusCode::BAD_REQUEST);
    let mut same = request("/", v11, &[("host", b"a.test"), ("host", b"a.test")]);
    assert_eq!(refused(&mut same), StatusCode::BAD_REQUEST);
    // An invalid Host value.
    for bad in [&b"a b"[..], b"a/b", b"a@b", b"a:80x", b"[::1", b"a:123456"] {
        let mut p = request("/", v11, &[("host", bad)]);
        assert_eq!(refused(&mut p), StatusCode::BAD_REQUEST, "{bad:?}");
    }
    // 7: an absolute-form target sets the host, whatever Host said.
    let mut abs = request("http://a.test:8080/x?y", v11, &[("host", b"b.test")]);
    check_request(&mut abs).unwrap();
    assert_eq!(abs.headers[header::HOST], "a.test:8080");
    assert_eq!(abs.headers.get_all(header::HOST).iter().count(), 1);
    let mut user = request("http://a.test@b.test/x", v11, &[("host", b"b.test")]);
    assert_eq!(refused(&mut user), StatusCode::BAD_REQUEST);
    // Host is required on HTTP/1.1 even with an absolute-form target.
    let mut no_host = request("http://a.test/x", v11, &[]);
    assert_eq!(refused(&mut no_host), StatusCode::BAD_REQUEST);
    let mut no_host_10 = request("http://a.test/x", Version::HTTP_10, &[]);
    check_request(&mut no_host_10).unwrap();
    assert_eq!(no_host_10.headers[header::HOST], "a.test");
    // 6: HTTP/2's `:authority` wins over a `host` header.
    let mut h2 = request("https://a.test/x", Version::HTTP_2, &[("host", b"b.test")]);
    check_request(&mut h2).unwrap();
    assert_eq!(h2.headers[header::HOST], "a.test");
    assert_eq!(&*request_host(&h2), b"a.test");
    // 8: HTTP/1.1 without Host is refused; HTTP/1.0 is not.
    let mut none = request("/", v11, &[]);
    assert_eq!(refused(&mut none), StatusCode::BAD_REQUEST);
    check_request(&mut request("/", Version::HTTP_10, &[])).unwrap();
    check_request(&mut request("/", v11, &[("host", b"[::1]:80")])).unwrap();
    check_request(&mut request("/", v11, &[("host", b"")])).unwrap();
    // 9: only a lone `chunked` transfer coding.
    for te in [
        &b"gzip, chunked"[..],
        b"chunked, chunked",
        b"identity",
        b"xchunked",
    ] {
        let mut p = request("/", v11, &[("host", b"a"), ("transfer-encoding", te)]);
        assert_eq!(refused(&mut p), StatusCode::NOT_IMPLEMENTED, "{te:?}");
    }
    let mut two_lines = request(
        "/",
        v11,
        &[
            ("host", b"a"),
            ("transfer-encoding", b"chunked"),
            ("transfer-encoding", b"chunked"),
        ],
    );
    assert_eq!(refused(&mut two_lines), StatusCode::NOT_IMPLEMENTED);
    check_request(&mut request(
        "/",
        v11,
        &[("host", b"a"), ("transfer-encoding", b"Chunked")],
    ))
    .unwrap();
}
