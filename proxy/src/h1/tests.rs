//! The client against raw loopback upstreams that answer byte by byte as scripted.

use super::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Keeps what comes back, to check whether a connection was reused.
#[derive(Default)]
struct Pool(Mutex<Vec<Conn>>);

impl Recycle for Pool {
    fn recycle(&self, conn: Conn) {
        self.0.lock().unwrap().push(conn);
    }
}

/// A raw upstream: reads one request (head, and a body by content-length or up to
/// `0\r\n\r\n` when chunked), sends `answer` in pieces with pauses (so the client sees
/// partial reads), then closes if `close`. Returns the address and the request bytes.
async fn upstream(
    answer: Vec<&'static [u8]>,
    close: bool,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<Vec<u8>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let body = &text[end + 4..];
                let done = if text.contains("transfer-encoding: chunked") {
                    body.ends_with("0\r\n\r\n")
                } else {
                    let want = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                    body.len() >= want
                };
                if done {
                    break;
                }
            }
            let n = s.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        let _ = tx.send(got);
        for piece in answer {
            s.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if close {
            drop(s);
        } else {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    (addr, rx)
}

/// A bodiless request with no headers of its own.
fn bodiless(method: Method, path: &str, host: &str) -> Request {
    Request::encode(
        &method,
        path,
        &HeaderMap::new(),
        host,
        OutBody::Bytes(Bytes::new()),
        None,
    )
}

/// A GET asking for a WebSocket upgrade: the only kind of request a `101` may answer.
fn upgrade_get() -> Request {
    let mut h = HeaderMap::new();
    h.insert(header::UPGRADE, "websocket".parse().unwrap());
    h.insert(header::CONNECTION, "upgrade".parse().unwrap());
    Request::encode(
        &Method::GET,
        "/ws",
        &h,
        "h",
        OutBody::Bytes(Bytes::new()),
        None,
    )
}

fn head_request() -> Request {
    bodiless(Method::HEAD, "/", "h")
}

fn get() -> Request {
    bodiless(Method::GET, "/x?y=1", "10.0.0.1:80")
}

/// One round trip; the body read to its end. Returns the head, the body (or its
/// error) and whether the connection went back to the pool.
async fn call(
    answer: Vec<&'static [u8]>,
    close: bool,
    mut req: Request,
) -> (Result<Head, String>, Result<Bytes, String>, bool, Vec<u8>) {
    let (addr, sent) = upstream(answer, close).await;
    let mut conn = Conn::new(TcpStream::connect(addr).await.unwrap());
    let pool = Arc::new(Pool::default());
    let head = match conn.round_trip(&mut req, false).await {
        Ok(h) => h,
        Err(f) => {
            return (
                Err(f.error.to_string()),
                Err(String::new()),
                false,
                sent.await.unwrap(),
            )
        }
    };
    let read = match head.body(conn, pool.clone()) {
        Ok(read) => read,
        Err(e) => return (Ok(head), Err(e), false, sent.await.unwrap()),
    };
    let body = match read {
        Read::Whole(b, conn) => {
            if let Some(c) = conn {
                pool.recycle(c);
            }
            Ok(b)
        }
        Read::Streaming(mut b) => {
            let mut all = Vec::new();
            let mut result = Ok(());
            while let Some(frame) = std::future::poll_fn(|cx| b.poll_frame(cx)).await {
                match frame {
                    Ok(f) => all.extend_from_slice(&f.into_data().unwrap()),
                    Err(e) => {
                        result = Err(e.to_string());
                        break;
                    }
                }
            }
            result.map(|()| Bytes::from(all))
        }
    };
    let reused = !pool.0.lock().unwrap().is_empty();
    (Ok(head), body, reused, sent.await.unwrap())
}

#[tokio::test]
async fn a_chunked_body_in_small_pieces_is_decoded_and_the_connection_reused() {
    let answer: Vec<&[u8]> = vec![
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n5\r\nhel",
        b"lo\r\n",
        b"6;ext=1\r\n world\r",
        b"\n0\r\nx-trailer: t\r\n",
        b"\r\n",
    ];
    let (head, body, reused, _) = call(answer, false, get()).await;
    let head = head.unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(body.unwrap(), "hello world");
    assert!(
        head.headers.get("transfer-encoding").is_none(),
        "hop-by-hop"
    );
    assert_eq!(head.headers["x-a"], "1");
    assert!(
        reused,
        "a chunked body read to its end frees the connection"
    );
}

#[tokio::test]
async fn a_length_body_streams_and_a_whole_one_comes_with_the_head() {
    let (head, body, reused, _) = call(
        vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234",
            b"56789",
        ],
        false,
        get(),
    )
    .await;
    assert_eq!(head.unwrap().headers["content-length"], "10");
    assert_eq!(body.unwrap(), "0123456789");
    assert!(reused);
    let (_, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"],
        false,
        get(),
    )
    .await;
    assert_eq!(body.unwrap(), "abc");
    assert!(reused);
}

#[tokio::test]
async fn a_body_up_to_close_is_read_and_the_connection_not_reused() {
    let (head, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\n\r\nuntil", b" the end"],
        true,
        get(),
    )
    .await;
    assert_eq!(head.unwrap().status, 200);
    assert_eq!(body.unwrap(), "until the end");
    assert!(!reused);
    // HTTP/1.0 and `connection: close` answers are not reused either.
    let (_, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"],
        true,
        get(),
    )
    .await;
    assert_eq!(body.unwrap(), "ok");
    assert!(!reused);
    let (_, _, reused, _) = call(
        vec![b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"],
        true,
        get(),
    )
    .await;
    assert!(!reused);
}

#[tokio::test]
async fn a_body_cut_short_is_an_error() {
    let (_, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"],
        true,
        get(),
    )
    .await;
    assert!(body.unwrap_err().contains("before the response body ended"));
    assert!(!reused);
    let (_, body, _, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab"],
        true,
        get(),
    )
    .await;
    assert!(body.is_err());
}

#[tokio::test]
async fn informational_answers_are_skipped() {
    let (head, body, _, _) = call(
        vec![b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 1\r\n\r\nk"],
        false,
        get(),
    )
    .await;
    let head = head.unwrap();
    assert_eq!(head.status, 201);
    assert!(head.headers.get("link").is_none());
    assert_eq!(body.unwrap(), "k");
}

#[tokio::test]
async fn framing_conflicts_follow_rfc_9112() {
    // transfer-encoding wins over content-length, which is dropped, and the
    // connection is not reused.
    let (head, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"],
        false,
        get(),
    )
    .await;
    assert!(head.unwrap().headers.get("content-length").is_none());
    assert_eq!(body.unwrap(), "ok");
    assert!(!reused);
    let (head, _, _, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nok"],
        false,
        get(),
    )
    .await;
    assert!(head.err().unwrap().contains("conflicting content-length"));
    let (head, _, _, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n"],
        false,
        get(),
    )
    .await;
    assert!(head.err().unwrap().contains("invalid content-length"));
    let (head, _, _, _) = call(vec![b"HTTP/1.1 2000 Nope\r\n\r\n"], false, get()).await;
    assert!(head.err().unwrap().contains("invalid response"));
}

#[tokio::test]
async fn hop_by_hop_headers_go_except_on_a_101() {
    let (head, _, _, _) = call(
        vec![b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\nx-private: 1\r\nUpgrade: h2c\r\nx-public: 2\r\ncontent-length: 0\r\n\r\n"],
        false,
        get(),
    )
    .await;
    let names: Vec<String> = head
        .unwrap()
        .headers
        .keys()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(names, ["x-public", "content-length"]);
    let (head, _, _, _) = call(
        vec![b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"],
        false,
        upgrade_get(),
    )
    .await;
    let head = head.unwrap();
    assert!(head.is_upgrade());
    assert_eq!(head.headers["upgrade"], "websocket");
    assert_eq!(head.headers["connection"], "upgrade");
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let big: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n", "a".repeat(MAX_HEAD))
            .into_bytes()
            .into_boxed_slice(),
    );
    let (head, _, _, _) = call(vec![big], false, get()).await;
    assert!(head.err().unwrap().contains("larger than"));
}

#[tokio::test]
async fn requests_carry_the_framing_their_body_needs() {
    let ok: Vec<&[u8]> = vec![b"HTTP/1.1 204 No Content\r\n\r\n"];
    // A GET without a body says nothing about one; the host is added when missing.
    let (_, _, _, sent) = call(ok.clone(), false, get()).await;
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "GET /x?y=1 HTTP/1.1\r\nhost: 10.0.0.1:80\r\n\r\n"
    );
    // A POST says its length, even 0; the client's own framing headers are replaced.
    let mut h = HeaderMap::new();
    h.insert(header::HOST, "app.example".parse().unwrap());
    h.insert(header::CONTENT_LENGTH, "999".parse().unwrap());
    h.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
    let post = |body: &'static [u8]| {
        Request::encode(
            &Method::POST,
            "/p",
            &h,
            "x",
            OutBody::Bytes(Bytes::from_static(body)),
            None,
        )
    };
    let (_, _, _, sent) = call(ok.clone(), false, post(b"")).await;
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "POST /p HTTP/1.1\r\nhost: app.example\r\ncontent-length: 0\r\n\r\n"
    );
    let (_, _, _, sent) = call(ok.clone(), false, post(b"hello")).await;
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "POST /p HTTP/1.1\r\nhost: app.example\r\ncontent-length: 5\r\n\r\nhello"
    );
}

#[tokio::test]
async fn a_head_answer_has_no_body_whatever_it_announces() {
    let req = head_request();
    let (head, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"],
        false,
        req,
    )
    .await;
    assert_eq!(head.unwrap().headers["content-length"], "1000");
    assert!(body.unwrap().is_empty());
    assert!(reused);
}

#[tokio::test]
async fn an_idle_connection_the_upstream_closed_does_not_look_open() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conn = Conn::new(TcpStream::connect(addr).await.unwrap());
    let (server_side, _) = listener.accept().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(conn.looks_open());
    drop(server_side);
    // The close arrives as readiness on the next turn of the I/O driver.
    let mut open = true;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        open = conn.looks_open();
        if !open {
            break;
        }
    }
    assert!(!open);
}

#[tokio::test]
async fn a_streamed_request_body_of_unknown_length_goes_chunked() {
    // A real client body (hyper's Incoming) of unknown length, through a proxy-like
    // hop: a tiny hyper server hands its request body to `Request::encode`.
    let (addr, sent) = upstream(vec![b"HTTP/1.1 204 No Content\r\n\r\n"], false).await;
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = front.accept().await.unwrap();
        let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| async move {
            let (parts, body) = req.into_parts();
            let mut out = Request::encode(
                &parts.method,
                "/up",
                &parts.headers,
                "h",
                OutBody::Stream(crate::body::Idle::new(
                    body,
                    std::time::Duration::from_secs(10),
                )),
                None,
            );
            let mut conn = Conn::new(TcpStream::connect(addr).await.unwrap());
            let head = conn
                .round_trip(&mut out, false)
                .await
                .map_err(|f| f.error.to_string())?;
            Ok::<_, String>(
                http::Response::builder()
                    .status(head.status)
                    .body(http_body_util::Empty::<Bytes>::new())
                    .unwrap(),
            )
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
            .await;
    });
    let mut s = TcpStream::connect(front_addr).await.unwrap();
    s.write_all(b"POST /in HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.write_all(b"2\r\nde\r\n0\r\n\r\n").await.unwrap();
    let sent = String::from_utf8(sent.await.unwrap()).unwrap();
    assert!(sent.starts_with("POST /up HTTP/1.1\r\n"), "{sent}");
    assert!(sent.contains("transfer-encoding: chunked\r\n"), "{sent}");
    assert!(
        sent.ends_with("\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
        "{sent}"
    );
}

/// `raw` as the request asks for it: the header lines the client writer copies on.
async fn raw_lines(answer: &'static [u8], mut req: Request) -> (Head, String) {
    req.want_raw_head();
    let (head, body, _, _) = call(vec![answer], false, req).await;
    let head = head.unwrap();
    body.unwrap();
    assert!(head.headers.is_empty(), "no HeaderMap is built");
    let raw = head.raw.clone().expect("raw header lines");
    (head, String::from_utf8(raw.lines.to_vec()).unwrap())
}

#[tokio::test]
async fn raw_heads_keep_end_to_end_lines_as_sent_and_leave_out_what_the_writer_frames() {
    // Hop-by-hop headers, those `connection` names and the length (the writer frames
    // the body itself) are left out; the rest keep their order and the upstream's case.
    let (head, lines) = raw_lines(
        b"HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive, X-Private\r\nx-private: 1\r\nDate: Fri, 27 Nov 2026 00:00:00 GMT\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nok",
        get(),
    )
    .await;
    assert_eq!(
        lines,
        "Server: up\r\nDate: Fri, 27 Nov 2026 00:00:00 GMT\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
    );
    assert!(head.raw.unwrap().has_date);
    // Chunked: transfer-encoding (hop-by-hop) and the length it overrides go.
    let (head, lines) = raw_lines(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        get(),
    )
    .await;
    assert_eq!(lines, "x-a: 1\r\n");
    assert!(!head.raw.unwrap().has_date);
    // Where the writer sends no body it sends no length either: the upstream's stays.
    let head_req = head_request();
    let (_, lines) = raw_lines(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n", head_req).await;
    assert_eq!(lines, "content-length: 1000\r\n");
    let (_, lines) = raw_lines(
        b"HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\ncontent-length: 7\r\n\r\n",
        get(),
    )
    .await;
    assert_eq!(lines, "etag: \"v1\"\r\ncontent-length: 7\r\n");
    // A 101 keeps its map: the upgrade needs `upgrade` and `connection`.
    let mut req = upgrade_get();
    req.want_raw_head();
    let (head, _, _, _) = call(
        vec![b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"],
        false,
        req,
    )
    .await;
    let head = head.unwrap();
    assert!(head.raw.is_none());
    assert_eq!(head.headers["upgrade"], "websocket");
}

/// Issue 20, finding 1: a chunked answer whose last line ends in a bare LF ends there
/// (RFC 9112 2.2 lets a recipient take LF for CRLF), with no wait for the upstream to
/// close: `call`'s upstream holds its connection open for seconds, and the connection goes
/// back to the pool.
#[tokio::test]
async fn chunked_lines_may_end_in_a_bare_lf() {
    let started = std::time::Instant::now();
    let (head, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n"],
        false,
        get(),
    )
    .await;
    assert_eq!(head.unwrap().status, 200);
    assert_eq!(body.unwrap(), "hello");
    assert!(reused, "the message ended, so the connection is free");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "it did not wait"
    );
    // Every line end of the framing may be a bare LF, trailers included.
    let (_, body, reused, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\nabc\n2;x=y\nde\n0\nx-t: 1\n\n"],
        false,
        get(),
    )
    .await;
    assert_eq!(body.unwrap(), "abcde");
    assert!(reused);
}

/// Issue 20, finding 4: a chunked body broken in its first size line, read with the head,
/// fails the round trip (502 for the client) instead of a cut answer.
#[tokio::test]
async fn a_chunked_body_broken_before_its_first_byte_fails_the_exchange() {
    let (head, body, _, _) = call(
        vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"],
        false,
        get(),
    )
    .await;
    assert_eq!(head.unwrap().status, 200);
    assert_eq!(body.unwrap_err(), "invalid chunk size in the response body");
}

/// Issue 20, finding 10: a `101` to a request that asked for no upgrade is refused.
#[tokio::test]
async fn an_unsolicited_101_is_an_error() {
    let (head, _, _, _) = call(
        vec![b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"],
        false,
        get(),
    )
    .await;
    let e = head.err().expect("refused");
    assert!(e.contains("asked for no upgrade"), "{e}");
}

/// The chunk-size line, byte by byte: what is accepted, and what is refused (the forms
/// request smugglers use). `None` is "need more".
#[test]
fn chunk_size_lines_are_strict() {
    use super::body::chunk_size_line as line;
    let ok = |s: &[u8]| line(s).unwrap();
    assert_eq!(ok(b"0\r\n"), Some((3, 0)));
    assert_eq!(ok(b"0\n"), Some((2, 0)));
    assert_eq!(ok(b"1f\r\nxx"), Some((4, 31)));
    assert_eq!(ok(b"A;name=value\r\n"), Some((14, 10)));
    assert_eq!(ok(b"a ; ext\r\n"), Some((9, 10)));
    assert_eq!(ok(b"ffffffffffffffff\r\n"), Some((18, u64::MAX)));
    assert_eq!(ok(b"12"), None);
    assert_eq!(ok(b"12\r"), None);
    assert_eq!(ok(b""), None);
    for bad in [
        &b"\r\n"[..],             // no digits: not a last chunk
        b"x\r\n",                 // not hex
        b"0x10\r\n",              // no 0x prefix in HTTP
        b"-1\r\n",                // no sign
        b"+1\r\n",                // no sign
        b" 1\r\n",                // no leading space
        b"1 \r\n",                // space without an extension
        b"1\r\r\n",               // a bare CR
        b"1\rx\n",                // a bare CR
        b"1;a\rb\r\n",            // a bare CR in an extension
        b"1;a\0b\r\n",            // a NUL in an extension
        b"10000000000000000\r\n", // 17 digits: past u64
        b"1,2\r\n",
        b"G",
        b"00000000000000000", // already too long to be a size
    ] {
        assert!(
            line(bad).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(bad)
        );
    }
    // A line that never ends is refused once past the limit.
    let mut long = b"1;".to_vec();
    long.resize(5000, b'a');
    assert!(line(&long).is_err());
}

/// The whole decoder over the same bytes in every split: the same body, or the same error.
#[test]
fn chunked_decoding_does_not_depend_on_how_the_bytes_arrive() {
    use super::body::{decode_chunk, Decoded};
    use super::head::Chunk;
    fn decode(pieces: &[&[u8]]) -> Result<Vec<u8>, String> {
        let mut state = Chunk::Size;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for p in pieces {
            buf.extend_from_slice(p);
            loop {
                match decode_chunk(&mut state, &mut buf)? {
                    Decoded::Data(d) => out.extend_from_slice(&d),
                    Decoded::NeedMore => break,
                    Decoded::End => return Ok(out),
                }
            }
        }
        Err("incomplete".into())
    }
    let cases: [&[u8]; 4] = [
        b"5\r\nhello\r\n6;e=1\r\n world\r\n0\r\nt: 1\r\n\r\n",
        b"5\nhello\n0\n\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"3\r\nabc\r\n0\r\nbad\rtrailer\r\n\r\n",
    ];
    for whole in cases {
        let expected = decode(&[whole]);
        for at in 0..=whole.len() {
            let (a, b) = whole.split_at(at);
            assert_eq!(decode(&[a, b]), expected, "split at {at}");
        }
    }
    assert_eq!(decode(&[cases[0]]).unwrap(), b"hello world");
    assert_eq!(decode(&[cases[1]]).unwrap(), b"hello");
    assert!(decode(&[cases[2]]).is_err());
    assert!(decode(&[cases[3]]).is_err());
}

/// Issue 20, finding 13: a `103 Early Hints` is handed to the client's relay, as an
/// HTTP/1.1 head with its end-to-end headers; a `100` and a `102` are not.
#[tokio::test]
async fn early_hints_go_to_the_relay_and_other_interim_answers_do_not() {
    let interim = Arc::new(Interim::default());
    let mut req = get();
    req.want_raw_head();
    req.relay_early_hints(interim.clone());
    let (head, body, _, _) = call(
        vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n",
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: x-h\r\nKeep-Alive: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        ],
        false,
        req,
    )
    .await;
    assert_eq!(head.unwrap().status, 200);
    assert_eq!(body.unwrap(), "ok");
    let relayed = String::from_utf8(interim.take().expect("relayed")).unwrap();
    assert_eq!(
        relayed,
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
    );
    assert!(interim.take().is_none(), "taken once");
}

/// Found by fuzzing (fuzz/regressions/h1_response/duplicate-content-length-forwarded):
/// equal lengths repeated are accepted as one and passed on as one line.
#[tokio::test]
async fn repeated_equal_lengths_go_on_as_one() {
    let (head, body, _, _) = call(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok"],
        false,
        get(),
    )
    .await;
    let head = head.unwrap();
    assert_eq!(body.unwrap(), "ok");
    let lengths: Vec<_> = head.headers.get_all("content-length").iter().collect();
    assert_eq!(lengths, ["2"]);
    // As raw lines on an answer to HEAD (the writer sends no length of its own there).
    let mut req = head_request();
    req.want_raw_head();
    let (head, _, _, _) = call(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nx-a: 1\r\nContent-Length: 7\r\n\r\n"],
        false,
        req,
    )
    .await;
    let lines = head.unwrap().raw.unwrap().lines;
    assert_eq!(&lines[..], b"x-a: 1\r\ncontent-length: 7\r\n");
}

/// Found by fuzzing (fuzz/regressions/h1_response/head-te-cl-forwarded): an answer with
/// both transfer-encoding and content-length loses its content-length whatever its status
/// (RFC 9112 6.3), HEAD's included, and its connection is not reused.
#[tokio::test]
async fn a_bodiless_answer_with_both_framings_loses_its_length() {
    let mut req = head_request();
    req.want_raw_head();
    let (head, _, reused, _) = call(
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nx-a: 1\r\n\r\n",
        ],
        false,
        req,
    )
    .await;
    assert_eq!(&head.unwrap().raw.unwrap().lines[..], b"x-a: 1\r\n");
    assert!(!reused);
    let (head, _, _, _) = call(
        vec![
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ],
        false,
        get(),
    )
    .await;
    assert!(head.unwrap().headers.get("content-length").is_none());
}
