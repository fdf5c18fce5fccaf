//! API errors as the real server writes them: a `Status` object (kind Status, apiVersion
//! v1, status Failure) with the HTTP code in `code`, a machine-readable `reason`, and the
//! message worded as apimachinery's `pkg/api/errors/errors.go` words it.

use serde_json::{json, Map, Value};

/// The group and resource an error is about, as apimachinery's `GroupResource`: its
/// `String()` is `resource.group` (or just `resource` for the core group).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// One field error of an Invalid status (`field.Error`: type, field path, detail).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The cause type (`FieldValueInvalid`, `FieldValueRequired`, ...).
    pub cause: &'static str,
    pub field: String,
    /// `ErrorBody()`: what follows `field: ` in the message.
    pub body: String,
}

impl FieldError {
    /// `field.Invalid`: `<field>: Invalid value: <value>: <detail>`.
    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        let body = format!("Invalid value: {}: {}", go_value(value), detail);
        FieldError {
            cause: "FieldValueInvalid",
            field: field.to_string(),
            body,
        }
    }
    /// `field.Invalid` with a value already formatted (Go's `%#v` of a non-JSON value).
    pub fn invalid_raw(field: &str, value: &str, detail: &str) -> Self {
        let body = format!("Invalid value: {value}: {detail}");
        FieldError {
            cause: "FieldValueInvalid",
            field: field.to_string(),
            body,
        }
    }
    /// `field.Required`: `<field>: Required value[: detail]`.
    pub fn required(field: &str, detail: &str) -> Self {
        let body = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        FieldError {
            cause: "FieldValueRequired",
            field: field.to_string(),
            body,
        }
    }
    /// `field.NotSupported`: `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: &Value, allowed: &[Value]) -> Self {
        let allowed: Vec<String> = allowed.iter().map(go_value).collect();
        let body = format!(
            "Unsupported value: {}: supported values: {}",
            go_value(value),
            allowed.join(", ")
        );
        FieldError {
            cause: "FieldValueNotSupported",
            field: field.to_string(),
            body,
        }
    }
    /// `field.Forbidden`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        FieldError {
            cause: "FieldValueForbidden",
            field: field.to_string(),
            body: format!("Forbidden: {detail}"),
        }
    }
    /// `field.TooLong` / `TooMany` and friends share `Invalid`'s shape closely enough;
    /// this one is `field.TypeInvalid`, used for schema type mismatches.
    pub fn type_invalid(field: &str, value: &Value, detail: &str) -> Self {
        let body = format!("Invalid value: {}: {}", go_value(value), detail);
        FieldError {
            cause: "FieldValueTypeInvalid",
            field: field.to_string(),
            body,
        }
    }
    pub fn with_cause(mut self, cause: &'static str, body: String) -> Self {
        self.cause = cause;
        self.body = body;
        self
    }
    /// `field.Error.Error()`: `<field>: <body>` (no field: just the body).
    pub fn message(&self) -> String {
        if self.field.is_empty() {
            self.body.clone()
        } else {
            format!("{}: {}", self.field, self.body)
        }
    }
}

/// How a value reads in a field error: strings quoted, numbers and booleans bare, and
/// composite values as Go prints them (close enough: JSON).
pub fn go_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// An API error: everything needed to write the Status body and pick the HTTP code.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details`; `None` writes no details at all (BadRequest, Expired). Boxed: errors
    /// travel in every `Result` of the request path, and a JSON value is large.
    pub details: Option<Box<Value>>,
    /// `metadata.continue` of an Expired list (an inconsistent continue token).
    pub continue_token: Option<String>,
}

fn details(gr: &GroupResource, name: &str) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !gr.group.is_empty() {
        d.insert("group".into(), json!(gr.group));
    }
    if !gr.resource.is_empty() {
        d.insert("kind".into(), json!(gr.resource));
    }
    Value::Object(d)
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> Self {
        ApiError {
            code,
            reason,
            message,
            details: details.map(Box::new),
            continue_token: None,
        }
    }
    pub fn not_found(gr: &GroupResource, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{gr} {name:?} not found"),
            Some(details(gr, name)),
        )
    }
    pub fn already_exists(gr: &GroupResource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{gr} {name:?} already exists"),
            Some(details(gr, name)),
        )
    }
    pub fn conflict(gr: &GroupResource, name: &str, why: &str) -> Self {
        let msg = format!("Operation cannot be fulfilled on {gr} {name:?}: {why}");
        Self::new(409, "Conflict", msg, Some(details(gr, name)))
    }
    /// The optimistic-concurrency conflict (`OptimisticLockErrorMsg`).
    pub fn stale(gr: &GroupResource, name: &str) -> Self {
        Self::conflict(gr, name, OPTIMISTIC_LOCK)
    }
    /// `NewInvalid(qualifiedKind, name, errs)`: the message joins the field errors as
    /// `errs.ToAggregate()` does (one: bare; several: `[a, b]`).
    pub fn invalid(group: &str, kind: &str, name: &str, errs: Vec<FieldError>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let msgs: Vec<String> = dedup(errs.iter().map(FieldError::message).collect());
        let message = match msgs.len() {
            0 => format!("{qualified} {name:?} is invalid"),
            1 => format!("{qualified} {name:?} is invalid: {}", msgs[0]),
            _ => format!("{qualified} {name:?} is invalid: [{}]", msgs.join(", ")),
        };
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| json!({"reason": e.cause, "message": e.body, "field": e.field}))
            .collect();
        let mut d = Map::new();
        if !name.is_empty() {
            d.insert("name".into(), json!(name));
        }
        if !group.is_empty() {
            d.insert("group".into(), json!(group));
        }
        if !kind.is_empty() {
            d.insert("kind".into(), json!(kind));
        }
        if !causes.is_empty() {
            d.insert("causes".into(), Value::Array(causes));
        }
        Self::new(422, "Invalid", message, Some(Value::Object(d)))
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }
    pub fn forbidden(gr: &GroupResource, name: &str, why: &str) -> Self {
        let message = if name.is_empty() {
            format!("{gr} is forbidden: {why}")
        } else {
            format!("{gr} {name:?} is forbidden: {why}")
        };
        Self::new(403, "Forbidden", message, Some(details(gr, name)))
    }
    pub fn method_not_supported(gr: &GroupResource, action: &str) -> Self {
        let message = format!(
            "{action} is not supported on resources of kind {:?}",
            gr.to_string()
        );
        Self::new(405, "MethodNotAllowed", message, Some(details(gr, "")))
    }
    /// `negotiation.NewUnsupportedMediaTypeError`.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        let message = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        );
        Self::new(415, "UnsupportedMediaType", message, None)
    }
    /// `negotiation.NewNotAcceptableError`.
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        let message = format!(
            "only the following media types are accepted: {}",
            accepted.join(", ")
        );
        Self::new(406, "NotAcceptable", message, None)
    }
    /// `NewResourceExpired`: 410 with reason Expired and no details.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message.into(), None)
    }
    /// `NewGenericServerResponse(422, ...)` with no resource: the message is the generic
    /// one, whatever the underlying error said (a failed JSON patch `test` reads so).
    pub fn generic_unprocessable() -> Self {
        let message = "the server rejected our request due to an error in our request".to_string();
        Self::new(422, "Invalid", message, Some(json!({})))
    }
    pub fn internal(why: &str) -> Self {
        let message = format!("Internal error occurred: {why}");
        Self::new(
            500,
            "InternalError",
            message,
            Some(json!({"causes": [{"message": why}]})),
        )
    }
    /// `NewTimeoutError`.
    pub fn timeout(message: &str, retry_after: u32) -> Self {
        let d = json!({"retryAfterSeconds": retry_after});
        Self::new(504, "Timeout", format!("Timeout: {message}"), Some(d))
    }
    /// A plain 404 for a path that names no resource (`the server could not find the
    /// requested resource`, as the real server's NotFound handler answers).
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            Some(json!({})),
        )
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut metadata = Map::new();
        if let Some(token) = &self.continue_token {
            metadata.insert("continue".into(), json!(token));
        }
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": Value::Object(metadata),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = (**d).clone();
        }
        s
    }
}

/// `registry.OptimisticLockErrorMsg`.
pub const OPTIMISTIC_LOCK: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|m| seen.insert(m.clone()));
    v
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} {})", self.message, self.code, self.reason)
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;
