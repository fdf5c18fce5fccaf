//! weir's HTTP/1.1 server's request parser and framing decision (`h1_server`'s
//! `parse_request`), on whatever a client sends, pipelined requests included: the
//! connection loop serves requests off the front of its buffer until one is handed off.
//!
//! Never panics, and:
//! - a hand-off leaves the buffer untouched (hyper must see every byte the client sent);
//! - a 400 answers a head httparse accepted (the connection then closes);
//! - a served request took `head_len + body_len <= input` bytes: a complete HTTP/1.1 head
//!   (re-parsed here with httparse) and exactly `content-length` bytes of body (at most
//!   64 KiB), and left the rest;
//! - it carries no framing ambiguity: version 1.1, no `transfer-encoding`, `expect` or
//!   `upgrade`, at most one `content-length` (all digits, equal to the body's length), an
//!   origin-form target (not `CONNECT`, not `*`);
//! - method, target and headers are the bytes the client sent, in order; `close` is set
//!   exactly when a `connection` header lists `close`.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use weir_fuzz::{has_token, known};
use weir_proxy::fuzzing::{parse_request, Request};

/// h1_server's limits.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    // The connection's loop: serve off the front until a hand-off, a 400 or the end.
    while !buf.is_empty() {
        let before = buf.clone();
        match parse_request(&mut buf) {
            Request::HandOff => {
                assert_eq!(buf, before, "a hand-off consumed bytes hyper will not see");
                return;
            }
            Request::Bad => {
                // A 400 for a complete head httparse accepted; the connection then closes,
                // so what was taken off the buffer does not matter (but it is a prefix).
                let consumed = before.len() - buf.len();
                assert_eq!(&before[consumed..], &buf[..]);
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut headers);
                assert!(
                    matches!(req.parse(&before), Ok(httparse::Status::Complete(_))),
                    "a 400 for what is not a complete request head"
                );
                return;
            }
            Request::Serve { parts, body, close } => {
                check_served(&before, &buf, &parts, &body, close);
            }
        }
    }
});

fn check_served(
    before: &[u8],
    after: &[u8],
    parts: &http::request::Parts,
    body: &[u8],
    close: bool,
) {
    let consumed = before
        .len()
        .checked_sub(after.len())
        .expect("the buffer grew");
    assert!(consumed > 0, "a served request consumed nothing");
    assert_eq!(
        &before[consumed..],
        after,
        "the bytes left are not the input's tail"
    );
    let head_len = consumed
        .checked_sub(body.len())
        .expect("head_len + body_len > bytes consumed");
    assert!(head_len <= MAX_HEAD, "served a head of {head_len} bytes");
    assert!(
        body.len() <= MAX_BODY,
        "served a body of {} bytes",
        body.len()
    );
    assert_eq!(
        &before[head_len..consumed],
        body,
        "the body is not the bytes after the head"
    );

    // The head is exactly one complete request head.
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    assert_eq!(
        req.parse(&before[..head_len]).ok(),
        Some(httparse::Status::Complete(head_len)),
        "the head taken is not a complete request head"
    );
    assert_eq!(
        req.version,
        Some(1),
        "served a request that is not HTTP/1.1"
    );
    assert_eq!(parts.version, http::Version::HTTP_11);
    let method = req.method.expect("complete");
    let path = req.path.expect("complete");
    assert_eq!(parts.method.as_str(), method);
    assert_ne!(parts.method, http::Method::CONNECT);
    assert!(
        path.starts_with('/'),
        "served a target that is not origin-form: {path:?}"
    );
    assert!(parts.uri.scheme().is_none() && parts.uri.authority().is_none());
    // Known finding `fragment`: a `#` in the target is dropped with what follows it.
    if !(known("fragment") && path.contains('#')) {
        assert_eq!(parts.uri.to_string(), path, "the target changed");
    }

    // Headers: the client's, in order; no framing ambiguity.
    assert_eq!(parts.headers.len(), req.headers.len());
    let mut lengths = Vec::new();
    let mut wants_close = false;
    for (i, h) in req.headers.iter().enumerate() {
        let name = h.name.to_ascii_lowercase();
        assert!(
            !matches!(name.as_str(), "transfer-encoding" | "expect" | "upgrade"),
            "served a request with {name}"
        );
        let values: Vec<&[u8]> = parts
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        let nth = req.headers[..i]
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case(h.name))
            .count();
        assert_eq!(values.get(nth), Some(&h.value), "header {name} changed");
        if name == "content-length" {
            lengths.push(h.value);
        }
        if name == "connection" && has_token(h.value, b"close") {
            wants_close = true;
        }
    }
    assert_eq!(close, wants_close, "connection: close not read as sent");
    match lengths.as_slice() {
        [] => assert!(body.is_empty(), "a body without content-length"),
        [n] => {
            assert!(!n.is_empty() && n.iter().all(u8::is_ascii_digit));
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            assert_eq!(n, body.len(), "the body is not content-length long");
        }
        more => panic!(
            "served a request with {} content-length headers",
            more.len()
        ),
    }
}
