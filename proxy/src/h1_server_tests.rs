//! Unit tests of weir's own HTTP/1.1 server (the end-to-end ones are `tests/h1_server.rs`
//! and `tests/tls_h1.rs`).

use super::*;

/// A connection that, like a TLS session, may keep what it was given until flushed.
#[derive(Default)]
struct Held {
    held: Vec<u8>,
    sent: Vec<u8>,
}

impl AsyncRead for Held {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.held.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let held = std::mem::take(&mut self.held);
        self.sent.extend_from_slice(&held);
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl ClientStream for Held {
    const HOLDS_WRITES: bool = true;

    async fn wait_for_request(&mut self, _: &mut BytesMut) -> std::io::Result<usize> {
        Ok(0)
    }

    fn into_parkable(self) -> Option<TcpStream> {
        None
    }

    async fn close(self) {}
}

#[tokio::test]
async fn every_answer_is_flushed_before_the_connection_waits_again() {
    let large = vec![b'x'; COALESCE + 1];
    for body in [&b""[..], b"hello", &large] {
        let mut conn = Held::default();
        let resp = http::Response::new(crate::body::full(Bytes::copy_from_slice(body)));
        assert!(write_response(&mut conn, resp, false, false).await);
        assert!(conn.held.is_empty(), "{} bytes held", conn.held.len());
        assert!(conn.sent.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(conn.sent.ends_with(body));
        let length = format!("\r\ncontent-length: {}\r\n", body.len());
        assert!(conn
            .sent
            .windows(length.len())
            .any(|w| w == length.as_bytes()));
    }
}
