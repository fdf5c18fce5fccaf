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
            ProxyError::BadRequest(_) => ErrorKind::BadRequest,
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
            UpstreamError::Http(h) => {
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

    /// The response the client sees: the status, an `x-weir-error` header with the short
    /// reason, and a one-line text body.
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
