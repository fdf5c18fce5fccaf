//! The one body type that flows through the proxy in both directions: a client's
//! streamed body going upstream, an upstream's body coming back (with its pooled
//! connection), or bytes the proxy holds (its own answers, buffered bodies for retries
//! and mirrors). An enum, not a boxed trait object, so no allocation per request.

use crate::pool::UpstreamBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The error of a body in flight: a client or upstream connection that failed mid-body.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

pub enum ProxyBody {
    /// A client's request body, streamed upstream.
    Client(Incoming),
    /// An upstream's response body, streamed to the client.
    Upstream(UpstreamBody),
    /// Bytes held by the proxy, sent as one frame (`None` once sent).
    Full(Option<Bytes>),
}

pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    ProxyBody::Full(Some(b.into()))
}

pub fn empty() -> ProxyBody {
    ProxyBody::Full(None)
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ProxyBody::Client(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            ProxyBody::Upstream(b) => Pin::new(b).poll_frame(cx),
            ProxyBody::Full(b) => Poll::Ready(
                b.take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Client(b) => b.is_end_stream(),
            ProxyBody::Upstream(b) => b.is_end_stream(),
            ProxyBody::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Client(b) => b.size_hint(),
            ProxyBody::Upstream(b) => b.size_hint(),
            ProxyBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}
