//! The HTTP side of `weir rollouts`: requests to the standalone control API on the admin
//! listener of a running `weir run`, with the bearer token, and the one place their failures
//! become messages a user can act on ([`AdminError`]).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{header, Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use weir_config::argo::{AnalysisRun, Rollout};

use super::experiment_view::ExperimentInfo;

/// A refused or unroutable address fails fast instead of hanging the terminal.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bounds a whole call (connect, headers, body) so `--watch` never stalls on one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read; a list of rollouts with their analysis runs is far smaller.
const MAX_BODY: usize = 16 << 20;

/// A command that changes a rollout: `POST /rollouts/{name}/{verb}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Promote {
        full: bool,
    },
    Abort,
    Retry,
    Pause,
    /// `spec.paused` cleared (the dashboard's resume; `promote` also ends a step's pause).
    Resume,
}

impl Action {
    fn path(self, name: &str) -> String {
        let name = path_segment(name);
        match self {
            Action::Promote { full: false } => format!("/rollouts/{name}/promote"),
            Action::Promote { full: true } => format!("/rollouts/{name}/promote?full=true"),
            Action::Abort => format!("/rollouts/{name}/abort"),
            Action::Retry => format!("/rollouts/{name}/retry"),
            Action::Pause => format!("/rollouts/{name}/pause"),
            Action::Resume => format!("/rollouts/{name}/resume"),
        }
    }

    /// The past tense `kubectl argo rollouts` prints: "rollout 'web' promoted".
    pub fn done(self) -> &'static str {
        match self {
            Action::Promote { full: false } => "promoted",
            Action::Promote { full: true } => "fully promoted",
            Action::Abort => "aborted",
            Action::Retry => "retried",
            Action::Pause => "paused",
            Action::Resume => "resumed",
        }
    }
}

/// Why a call to the admin API failed.
#[derive(Debug)]
pub enum AdminError {
    /// `--admin` / `WEIR_ADMIN` is not an address an HTTP request can go to.
    Address { address: String, reason: String },
    /// Nothing answered at the address: refused, unreachable, or the name did not resolve.
    Connect {
        address: String,
        refused: bool,
        reason: String,
    },
    /// The call took longer than [`REQUEST_TIMEOUT`].
    Timeout { address: String, path: String },
    /// The connection broke mid-call.
    Transport {
        address: String,
        path: String,
        reason: String,
    },
    /// The API answered with an error status; `message` is its `{"error": ...}` text.
    Api {
        method: Method,
        path: String,
        status: StatusCode,
        message: String,
    },
    /// A success status whose body is not the JSON this command expects.
    Decode {
        path: String,
        expected: &'static str,
        reason: String,
    },
}

impl AdminError {
    /// True for failures that may pass on their own (weir restarting): `--watch` retries those
    /// and gives up on the rest (an unknown rollout, a refused token).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AdminError::Connect { .. } | AdminError::Timeout { .. } | AdminError::Transport { .. }
        )
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Address { address, reason } => write!(
                f,
                "--admin {address:?}: {reason}; give host:port or http://host:port, \
                 e.g. 127.0.0.1:9901"
            ),
            AdminError::Connect {
                address,
                refused,
                reason,
            } => {
                let what = if *refused {
                    "connection refused".to_owned()
                } else {
                    reason.clone()
                };
                write!(
                    f,
                    "cannot reach weir's admin API at {address}: {what}. Is `weir run` running? \
                     Point at its admin listener with --admin ADDR or WEIR_ADMIN"
                )
            }
            AdminError::Timeout { address, path } => write!(
                f,
                "weir's admin API at {address} did not answer {path} within {}s",
                REQUEST_TIMEOUT.as_secs()
            ),
            AdminError::Transport {
                address,
                path,
                reason,
            } => write!(
                f,
                "{path} on weir's admin API at {address} failed: {reason}"
            ),
            AdminError::Api {
                method,
                path,
                status,
                message,
            } => {
                write!(f, "{method} {path}: {status}: {message}")?;
                if *status == StatusCode::UNAUTHORIZED {
                    f.write_str(
                        " (give the admin token with --token-file FILE or WEIR_ADMIN_TOKEN)",
                    )?;
                }
                Ok(())
            }
            AdminError::Decode {
                path,
                expected,
                reason,
            } => write!(
                f,
                "{path}: the answer is not {expected} as this weir reads it ({reason}); \
                 are `weir rollouts` and `weir run` the same version?"
            ),
        }
    }
}

impl StdError for AdminError {}

/// A client of one admin listener.
pub struct AdminClient {
    /// What the user gave (`--admin` / `WEIR_ADMIN`), repeated in error messages.
    address: String,
    /// `http://host:port` without a trailing slash; a call appends its path.
    base: String,
    /// Sent as `Authorization: Bearer` on every call when set.
    token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl AdminClient {
    pub fn new(address: &str, token: Option<String>) -> Result<Self, AdminError> {
        let base = base_url(address)?;
        if let Some(t) = &token {
            if header::HeaderValue::from_str(&format!("Bearer {t}")).is_err() {
                return Err(AdminError::Address {
                    address: address.to_owned(),
                    reason: "the admin token holds characters an HTTP header cannot carry".into(),
                });
            }
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(AdminClient {
            address: address.to_owned(),
            base,
            token,
            client,
        })
    }

    /// `GET /rollouts`.
    pub async fn rollouts(&self) -> Result<Vec<Rollout>, AdminError> {
        let path = "/rollouts";
        let body = self.call(Method::GET, path).await?;
        let items = items(path, &body)?;
        decode(path, "a list of Rollouts", serde_json::from_value(items))
    }

    /// `GET /rollouts/{name}`.
    pub async fn rollout(&self, name: &str) -> Result<Rollout, AdminError> {
        let path = format!("/rollouts/{}", path_segment(name));
        let body = self.call(Method::GET, &path).await?;
        decode(&path, "a Rollout", serde_json::from_slice(&body))
    }

    /// `GET /rollouts/{name}/analysisruns`.
    pub async fn analysis_runs(&self, name: &str) -> Result<Vec<AnalysisRun>, AdminError> {
        let path = format!("/rollouts/{}/analysisruns", path_segment(name));
        let body = self.call(Method::GET, &path).await?;
        let items = items(&path, &body)?;
        decode(
            &path,
            "a list of AnalysisRuns",
            serde_json::from_value(items),
        )
    }

    /// `GET /experiments`.
    pub async fn experiments(&self) -> Result<Vec<ExperimentInfo>, AdminError> {
        let path = "/experiments";
        let body = self.call(Method::GET, path).await?;
        let items: Vec<Value> = decode(
            path,
            "a list of Experiments",
            serde_json::from_value(items(path, &body)?),
        )?;
        items
            .into_iter()
            .map(|item| {
                decode(
                    path,
                    "a list of Experiments",
                    ExperimentInfo::from_json(item),
                )
            })
            .collect()
    }

    /// `GET /experiments/{name}`.
    pub async fn experiment(&self, name: &str) -> Result<ExperimentInfo, AdminError> {
        let path = format!("/experiments/{}", path_segment(name));
        let body = self.call(Method::GET, &path).await?;
        let value = decode(&path, "an Experiment", serde_json::from_slice(&body))?;
        decode(&path, "an Experiment", ExperimentInfo::from_json(value))
    }

    /// [`Self::experiment`], `None` when weir does not know it (gone, or a weir without
    /// experiments).
    pub async fn experiment_if_any(
        &self,
        name: &str,
    ) -> Result<Option<ExperimentInfo>, AdminError> {
        match self.experiment(name).await {
            Ok(info) => Ok(Some(info)),
            Err(AdminError::Api { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /rollouts/{name}/{action}`: the rollout as the command left it.
    pub async fn act(&self, name: &str, action: Action) -> Result<Rollout, AdminError> {
        let path = action.path(name);
        let body = self.call(Method::POST, &path).await?;
        decode(&path, "a Rollout", serde_json::from_slice(&body))
    }

    async fn call(&self, method: Method, path: &str) -> Result<Bytes, AdminError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.call_inner(method, path)).await {
            Ok(result) => result,
            Err(_) => Err(AdminError::Timeout {
                address: self.address.clone(),
                path: path.to_owned(),
            }),
        }
    }

    async fn call_inner(&self, method: Method, path: &str) -> Result<Bytes, AdminError> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| AdminError::Address {
                address: self.address.clone(),
                reason: e.to_string(),
            })?;
        let response = self.client.request(request).await.map_err(|e| {
            let reason = innermost(&e);
            if e.is_connect() {
                AdminError::Connect {
                    address: self.address.clone(),
                    refused: io_kind(&e) == Some(io::ErrorKind::ConnectionRefused),
                    reason,
                }
            } else {
                self.transport(path, reason)
            }
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| self.transport(path, e.to_string()))?
            .to_bytes();
        if status.is_success() {
            Ok(body)
        } else {
            Err(AdminError::Api {
                method,
                path: path.to_owned(),
                status,
                message: error_text(&body),
            })
        }
    }

    fn transport(&self, path: &str, reason: String) -> AdminError {
        AdminError::Transport {
            address: self.address.clone(),
            path: path.to_owned(),
            reason,
        }
    }
}

/// `127.0.0.1:9901` or `http://127.0.0.1:9901/` to `http://127.0.0.1:9901`.
pub fn base_url(address: &str) -> Result<String, AdminError> {
    let invalid = |reason: &str| AdminError::Address {
        address: address.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = address.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(invalid("empty address"));
    }
    if trimmed.starts_with("https://") {
        return Err(invalid("the admin API speaks plain HTTP, not HTTPS"));
    }
    let base = if trimmed.starts_with("http://") {
        trimmed.to_owned()
    } else if trimmed.contains("://") {
        return Err(invalid("only http:// is supported"));
    } else {
        format!("http://{trimmed}")
    };
    match format!("{base}/rollouts").parse::<hyper::Uri>() {
        Ok(uri) if uri.host().is_some() && uri.path() == "/rollouts" => Ok(base),
        Ok(_) => Err(invalid("not host:port")),
        Err(e) => Err(invalid(&e.to_string())),
    }
}

/// A rollout name as one path segment: unreserved characters kept, the rest percent-encoded,
/// so a stray `/` or `?` cannot address another endpoint.
pub fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `"error"` of an error answer, or its text when it is not the API's JSON (a proxy in
/// between, an older weir), cut to one readable line.
fn error_text(body: &[u8]) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        if let Some(Value::String(message)) = map.get("error") {
            return message.clone();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no details in the answer)".to_owned();
    }
    let mut line: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        line.push('…');
    }
    line.replace('\n', " ")
}

/// The `items` array of a list answer (`{"items": [...]}`).
fn items(path: &str, body: &[u8]) -> Result<Value, AdminError> {
    let value: Value = decode(path, "a JSON list", serde_json::from_slice(body))?;
    match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(items @ Value::Array(_)) => Ok(items),
            _ => Err(AdminError::Decode {
                path: path.to_owned(),
                expected: "a list",
                reason: "no \"items\" array".into(),
            }),
        },
        _ => Err(AdminError::Decode {
            path: path.to_owned(),
            expected: "a list",
            reason: "not a JSON object".into(),
        }),
    }
}

fn decode<T>(
    path: &str,
    expected: &'static str,
    result: Result<T, serde_json::Error>,
) -> Result<T, AdminError> {
    result.map_err(|e| AdminError::Decode {
        path: path.to_owned(),
        expected,
        reason: e.to_string(),
    })
}

/// The kind of the first I/O error in `e`'s chain of causes.
fn io_kind(e: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = err.source();
    }
    None
}

/// The most specific message in `e`'s chain ("Connection refused (os error 111)" rather than
/// "client error (Connect)").
pub(super) fn innermost(e: &(dyn StdError + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}
