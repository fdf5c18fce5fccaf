//! Proxy errors, and the one place they become HTTP responses.

use crate::body::{full, ProxyBody};
use crate::stats::ErrorKind;
use http::{header, HeaderValue, Response, StatusCode};

/// Why the proxy itself answered instead of an upstream.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no route matches this host and path")]
    NoRoute,
    #[error("no live endpoint for any backend of this route")]
    NoEndpoints,
    #[error("every backend of this route has weight 0")]
    ZeroWeight,
    #[error("could not connect to the upstream: {0}")]
    Connect(String),
    #[error("the upstream did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the upstream connection was reset: {0}")]
    Reset(String),
    #[error("the upstream broke the HTTP protocol: {0}")]
    Protocol(String),
    #[error("malformed request: {0}")]
    BadRequest(&'static str),
    /// A request weir will not forward because it cannot keep its meaning (a transfer
    /// coding other than a final `chunked`): 501, as nginx answers.
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
    /// The client stopped sending its request body for `limits.clientBodyTimeout`.
    #[error("the client sent no more of its request body for {0:?}")]
    ClientTimeout(std::time::Duration),
    /// The picked backend's service cannot be served (`Service::invalid`, the reason).
    #[error("the backend cannot be served: {0}")]
    InvalidBackend(String),
}

impl ProxyError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProxyError::NoRoute => ErrorKind::NoRoute,
            ProxyError::NoEndpoints => ErrorKind::NoEndpoints,
            ProxyError::ZeroWeight => ErrorKind::ZeroWeight,
            ProxyError::Connect(_) => ErrorKind::Connect,
            ProxyError::Timeout(_) => ErrorKind::Timeout,
            ProxyError::Reset(_) => ErrorKind::Reset,
            ProxyError::Protocol(_) => ErrorKind::Protocol,
            ProxyError::BadRequest(_) | ProxyError::NotImplemented(_) => ErrorKind::BadRequest,
            ProxyError::ClientTimeout(_) => ErrorKind::ClientTimeout,
            ProxyError::InvalidBackend(_) => ErrorKind::InvalidBackend,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::NoEndpoints | ProxyError::ZeroWeight => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Connect(_) | ProxyError::Reset(_) | ProxyError::Protocol(_) => {
                StatusCode::BAD_GATEWAY
            }
            ProxyError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ProxyError::ClientTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            // The Gateway API: the share of requests for an invalid backendRef gets 500.
            ProxyError::InvalidBackend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Classifies an error of an upstream call.
    pub fn from_upstream(e: crate::pool::UpstreamError) -> Self {
        use crate::pool::UpstreamError;
        let text = e.to_string();
        match &e {
            UpstreamError::Connect(_) => ProxyError::Connect(text),
            UpstreamError::Reset(_) => ProxyError::Reset(text),
            UpstreamError::Protocol(_) => ProxyError::Protocol(text),
            UpstreamError::ClientBody(_) => ProxyError::BadRequest("the request body ended early"),
            UpstreamError::ClientIdle(d) => ProxyError::ClientTimeout(*d),
            UpstreamError::Http(h) => {
                // The client's body, sent by hyper's client, went quiet.
                let mut cause = std::error::Error::source(h);
                while let Some(c) = cause {
                    if let Some(t) = c.downcast_ref::<crate::body::IdleTimeout>() {
                        return ProxyError::ClientTimeout(t.0);
                    }
                    cause = c.source();
                }
                let lower = text.to_ascii_lowercase();
                if h.is_incomplete_message()
                    || h.is_canceled()
                    || h.is_closed()
                    || h.is_body_write_aborted()
                    || lower.contains("reset")
                    || lower.contains("broken pipe")
                {
                    ProxyError::Reset(text)
                } else {
                    ProxyError::Protocol(text)
                }
            }
        }
    }

    /// Whether the client caused it (its request, or its body): not a backend's fault,
    /// so not counted on a backend.
    pub fn is_client_fault(&self) -> bool {
        matches!(
            self,
            ProxyError::BadRequest(_)
                | ProxyError::NotImplemented(_)
                | ProxyError::ClientTimeout(_)
        )
    }

    /// The response the client sees: the status, an `x-weir-error` header with the short
    /// reason, and a one-line text body. An answer to a request whose body may not have
    /// been read to its end closes the connection (`connection: close`).
    pub fn into_response(self) -> Response<ProxyBody> {
        let mut resp = Response::new(full(format!("{self}\n")));
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        h.insert(
            "x-weir-error",
            HeaderValue::from_static(self.kind().as_str()),
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.is_client_fault() {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// An error and its chain of causes, on one line.
pub(crate) fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}
