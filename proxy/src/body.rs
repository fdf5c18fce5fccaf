//! The one body type that flows through the proxy in both directions: a streamed
//! hyper body, or bytes the proxy holds (its own answers, buffered bodies for retries
//! and mirrors). An enum, not a boxed trait object, so no allocation per request.

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;

pub type ProxyBody = Either<Incoming, Full<Bytes>>;

pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    Either::Right(Full::new(b.into()))
}

pub fn empty() -> ProxyBody {
    Either::Right(Full::new(Bytes::new()))
}
