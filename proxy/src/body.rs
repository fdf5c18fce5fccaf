//! The one body type that flows through the proxy in both directions: a client's
//! streamed body going upstream, an upstream's body coming back (with its pooled
//! connection), or bytes the proxy holds (its own answers, buffered bodies for retries
//! and mirrors). An enum, not a boxed trait object, so no allocation per request.

use crate::pool::UpstreamBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};

pub enum ProxyBody {
    /// A client's request body, streamed upstream.
    Client(Incoming),
    /// An upstream's response body, streamed to the client.
    Upstream(UpstreamBody),
    /// Bytes held by the proxy.
    Full(Full<Bytes>),
}

pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    ProxyBody::Full(Full::new(b.into()))
}

pub fn empty() -> ProxyBody {
    ProxyBody::Full(Full::new(Bytes::new()))
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Client(b) => Pin::new(b).poll_frame(cx),
            ProxyBody::Upstream(b) => Pin::new(b).poll_frame(cx),
            ProxyBody::Full(b) => match Pin::new(b).poll_frame(cx) {
                Poll::Ready(Some(Ok(f))) => Poll::Ready(Some(Ok(f))),
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Client(b) => b.is_end_stream(),
            ProxyBody::Upstream(b) => b.is_end_stream(),
            ProxyBody::Full(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Client(b) => b.size_hint(),
            ProxyBody::Upstream(b) => b.size_hint(),
            ProxyBody::Full(b) => b.size_hint(),
        }
    }
}
