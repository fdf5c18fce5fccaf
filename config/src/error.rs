//! The one error type of this crate: where (file, line, field) and what is wrong.

use std::fmt;

/// One problem in a user's file. `Display` prints `file:line: field: message`, the form
/// editors and CI logs turn into links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based line; 0 when the position is unknown.
    pub line: u64,
    /// Dotted path of the offending field, e.g. `routes[0].backends[1].weight`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.file, self.line, &self.field, &self.message)
    }
}

/// `file:line: field: message`; without a field (a YAML syntax error, a problem of the
/// whole document) `file:line: message`.
pub(crate) fn write_located(
    f: &mut fmt::Formatter<'_>,
    file: &str,
    line: u64,
    field: &str,
    message: &str,
) -> fmt::Result {
    if field.is_empty() || field == "." {
        write!(f, "{file}:{line}: {message}")
    } else {
        write!(f, "{file}:{line}: {field}: {message}")
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one file, so a user fixes them all in one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
