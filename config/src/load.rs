//! From text to a validated [`ProxyConfig`].

use crate::{validate, ConfigError, ConfigErrors, ProxyConfig};

/// Parses and validates one proxy configuration document. `file` is only used in
/// error messages; `first_line` is the document's first line within that file (1 for a
/// file of its own, more for a document inside a multi-document file).
pub fn parse_proxy_config(
    file: &str,
    text: &str,
    first_line: u64,
) -> Result<ProxyConfig, ConfigErrors> {
    let mut path = String::new();
    let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    let config: ProxyConfig = match parsed {
        Ok(c) => c,
        Err(e) => {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            return Err(ConfigErrors(vec![ConfigError {
                file: file.to_string(),
                line: if line == 0 { 0 } else { line + first_line - 1 },
                field: if path == "." { String::new() } else { path },
                message: plain_message(&e),
            }]));
        }
    };
    let errors = validate::check(&config, file, first_line);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// serde-saphyr renders a source snippet after the message; keep the first line.
fn plain_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let mut first = text.lines().next().unwrap_or("").trim();
    first = first.strip_prefix("error: ").unwrap_or(first);
    // Drop a leading "line N column M: " that would repeat the location.
    if first.starts_with("line ") {
        if let Some(i) = first.find(": ") {
            first = &first[i + 2..];
        }
    }
    first.to_string()
}
