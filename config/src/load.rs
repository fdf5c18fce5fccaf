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
    // Syntax first, with the scanner `weir lint` uses, so both word it the same way.
    if let Err(e) = crate::argo::source_map::scan(text) {
        let (line, message) = crate::argo::source_map::syntax_error(&e);
        return Err(ConfigErrors(vec![ConfigError {
            file: file.to_string(),
            line: line as u64 + first_line - 1,
            field: String::new(),
            message,
        }]));
    }
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
                message: crate::yaml_error::message(&e, text),
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

/// Validates a configuration built in code (the proxy's Kubernetes mode merges the file's
/// with what it reads from the cluster): the checks [`parse_proxy_config`] makes after
/// parsing, `file` naming the source in messages.
pub fn validate_proxy_config(config: &ProxyConfig, file: &str) -> Result<(), ConfigErrors> {
    let errors = validate::check(config, file, 1);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}
