//! The one body type that flows through the proxy in both directions: a client's
//! streamed body going upstream, an upstream's body coming back (with its pooled
//! connection), or bytes the proxy holds (its own answers, buffered bodies for retries
//! and mirrors). An enum, not a boxed trait object, so no allocation per request.

use crate::pool::UpstreamBody;
use crate::stats::{BackendStats, ErrorKind};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The error of a body in flight: a client or upstream connection that failed mid-body.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

pub enum ProxyBody {
    /// A client's request body, streamed upstream (`limits.clientBodyTimeout` between
    /// pieces).
    Client(Idle<Incoming>),
    /// An upstream's response body, streamed to the client (the route's `timeouts.read`
    /// between pieces).
    Upstream(Idle<UpstreamBody>),
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
            ProxyBody::Client(b) => Pin::new(b).poll_frame(cx),
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

/// A body that fails when its sender goes quiet: no piece for `idle` (a client that stops
/// sending its request body, an upstream that stops sending its answer's). The timer
/// costs nothing while the body never waits (a body read whole with its head): it is made
/// the first time the body has nothing ready, and the clock is read only from then on.
///
/// With `stats`, a failure of the body (this timeout, or the inner body's own error) is
/// counted on that backend: the answer's status was counted when its head came, and a cut
/// body must not go unseen.
pub struct Idle<B> {
    inner: B,
    idle: Duration,
    /// Made the first time the body has to wait; boxed, so a body that never waits (most
    /// answers, read whole with their head) stays small as it moves through the proxy.
    waiting: Option<Pin<Box<Waiting>>>,
    stats: Option<Arc<BackendStats>>,
    failed: bool,
}

pin_project_lite::pin_project! {
    struct Waiting {
        // When the last piece came.
        last: Instant,
        #[pin]
        timer: Sleep,
    }
}

/// The error of a body whose sender went quiet ([`Idle`]).
#[derive(Debug, thiserror::Error)]
#[error("nothing more of the body came for {0:?}")]
pub struct IdleTimeout(pub Duration);

impl<B> Idle<B> {
    pub fn new(inner: B, idle: Duration) -> Self {
        Idle {
            inner,
            idle,
            waiting: None,
            stats: None,
            failed: false,
        }
    }

    /// Counts a failure of the body on `stats`.
    pub fn counted_on(mut self, stats: Arc<BackendStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    pub fn get_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Whether the body has been quiet for its whole allowance (registering for a wake-up
    /// at the end of it otherwise).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let idle = self.idle;
        let waiting = self.waiting.get_or_insert_with(|| {
            let last = Instant::now();
            Box::pin(Waiting {
                last,
                timer: tokio::time::sleep_until(last + idle),
            })
        });
        let w = waiting.as_mut().project();
        let deadline = *w.last + idle;
        let mut timer = w.timer;
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.poll(cx).is_ready()
    }

    fn count(&self, kind: ErrorKind) {
        if let Some(stats) = &self.stats {
            stats.record_error(kind);
        }
    }
}

impl<B> Body for Idle<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(w) = &mut this.waiting {
                    *w.as_mut().project().last = Instant::now();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.failed = true;
                let e: BodyError = e.into();
                let kind = if e.is::<IdleTimeout>() {
                    ErrorKind::ReadTimeout
                } else {
                    ErrorKind::Reset
                };
                this.count(kind);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending if this.expired(cx) => {
                this.failed = true;
                this.count(ErrorKind::ReadTimeout);
                Poll::Ready(Some(Err(Box::new(IdleTimeout(this.idle)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
