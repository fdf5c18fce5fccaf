//! weir-config: every type a user writes, parsed and validated.
//!
//! The proxy configuration (`weir proxy -c weir.yaml`) lives in [`proxy`]; durations
//! such as `"1s"` or `15` in [`duration`]. Parsing never touches the file system: callers
//! hand in the text and the file name, and every error names the file, the line and the
//! field, and says what would be valid ([`ConfigError`]).

#![forbid(unsafe_code)]

pub mod argo;
pub mod duration;
mod error;
pub mod lint;
mod load;
pub mod proxy;
pub mod quantity;
mod validate;
mod yaml_error;

pub use duration::Duration;
pub use error::{ConfigError, ConfigErrors};
pub use load::{parse_proxy_config, validate_proxy_config};
pub use proxy::ProxyConfig;
