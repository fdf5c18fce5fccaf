//! Raw clients and upstreams, for tests that look at the bytes on the wire: answers read
//! off a socket, an upstream that sends a fixed answer, and TLS with a chosen ALPN list.

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;

/// Reads answers off `s` until `n` complete ones (each with a content-length body, or
/// none for HEAD) have arrived; returns their raw text.
pub async fn read_answers<S: AsyncRead + Unpin>(
    s: &mut S,
    n: usize,
    head_only: bool,
) -> Vec<String> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    while out.len() < n {
        loop {
            let text = String::from_utf8_lossy(&buf).to_string();
            let Some(end) = text.find("\r\n\r\n") else {
                break;
            };
            let len = if head_only {
                0
            } else {
                text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0)
            };
            if buf.len() < end + 4 + len {
                break;
            }
            out.push(String::from_utf8_lossy(&buf[..end + 4 + len]).to_string());
            buf.drain(..end + 4 + len);
            if out.len() == n {
                return out;
            }
        }
        let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("answers within 5 s")
            .unwrap();
        assert!(
            r > 0,
            "closed after {} answers: {:?}",
            out.len(),
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..r]);
    }
    out
}

/// An upstream that sends `answer`, byte for byte, to every request head it reads.
pub async fn raw_upstream(answer: &'static [u8]) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..i + 4);
                        if s.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// A self-signed certificate for `localhost` (PEM cert, PEM key, DER cert).
pub fn tls_files() -> (String, String, Vec<u8>) {
    thread_local! {
        static CERT: (String, String, Vec<u8>) = {
            let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
            (c.cert.pem(), c.signing_key.serialize_pem(), c.cert.der().to_vec())
        };
    }
    CERT.with(|c| c.clone())
}

/// A TLS client configuration trusting only `ca_der`, offering `alpn` (none when empty).
pub fn client_config(ca_der: &[u8], alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(ca_der.to_vec()))
        .unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    cfg
}

/// TLS over `tcp` with SNI `name`, trusting `ca_der`, offering `alpn` (none when empty);
/// asserts that the server chose `chosen`.
pub async fn tls_connect(
    tcp: TcpStream,
    name: &str,
    ca_der: &[u8],
    alpn: &[&[u8]],
    chosen: Option<&[u8]>,
) -> TlsStream<TcpStream> {
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client_config(ca_der, alpn)))
        .connect(
            rustls_pki_types::ServerName::try_from(name.to_string()).unwrap(),
            tcp,
        )
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), chosen, "ALPN");
    tls
}

/// A TLS handshake with SNI `name` trusting only `ca_der`; the error when it fails (the
/// server offered a certificate not valid for `name`, say).
#[allow(dead_code)]
pub async fn try_tls_connect(
    tcp: TcpStream,
    name: &str,
    ca_der: &[u8],
) -> std::io::Result<TlsStream<TcpStream>> {
    tokio_rustls::TlsConnector::from(Arc::new(client_config(ca_der, &[b"h2"])))
        .connect(
            rustls_pki_types::ServerName::try_from(name.to_string()).unwrap(),
            tcp,
        )
        .await
}

/// A connection to `addr` whose receive buffer is as small as the kernel allows, so a
/// client that does not read makes the server's writes wait.
pub async fn connect_with_small_receive_buffer(addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Keeps `s` busy with a request every 100 ms for 600 ms, longer than the server's 300 ms
/// idle timeout, then asserts that the server closes it about 300 ms after the last
/// answer (within 3 s, not before 250 ms).
pub async fn assert_closed_once_idle_for_300ms<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) {
    // Busy for longer than the timeout: each request counts as activity.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        read_answers(s, 1, false).await;
    }
    // Then idle.
    let start = std::time::Instant::now();
    assert!(super::closed_within(s, Duration::from_secs(3)).await);
    let after = start.elapsed();
    assert!(
        after >= Duration::from_millis(250),
        "closed after only {after:?}"
    );
}

/// On a connection whose last request weir's own HTTP/1.1 server answered: a chunked
/// upload, which that server hands to hyper, reaches `b` whole (`after_upload` then checks
/// anything more about it), and hyper keeps serving the connection.
pub async fn assert_upload_handed_to_hyper<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    b: &super::Backend,
    after_upload: impl FnOnce(),
) {
    s.write_all(
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let a = read_answers(s, 1, false).await.remove(0);
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert_eq!(&b.last_body.lock()[..], b"abc");
    after_upload();
    // hyper keeps serving the connection.
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    assert!(read_answers(s, 1, false).await[0].starts_with("HTTP/1.1 200"));
}

/// Waits (up to 20 s) until the TLS listener at `addr` answers `sni` with the certificate
/// `der` (a certificate taken from the cluster is served a moment after it is written);
/// panics with `logs()` when it never does.
pub async fn until_certificate_served(
    addr: std::net::SocketAddr,
    sni: &str,
    der: &[u8],
    logs: impl Fn() -> String,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tried = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            try_tls_connect(tcp, sni, der),
        )
        .await;
        if matches!(tried, Ok(Ok(_))) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never served {sni}'s certificate: {tried:?}\n{}",
            logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
