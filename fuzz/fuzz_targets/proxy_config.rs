//! The proxy configuration loader (`weir proxy -c FILE`, reloads, and the proxy document of
//! a `weir run` file): text to a validated `ProxyConfig` (`weir_config::parse_proxy_config`:
//! the YAML scanner, serde-saphyr with field paths, then every semantic check).
//!
//! Never panics, and:
//! - a rejected file gets at least one error, each naming the file and a line inside it
//!   (or 0, unknown);
//! - a configuration it returns passes `validate_proxy_config` again (what the Kubernetes
//!   mode re-checks after merging).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_config::{parse_proxy_config, validate_proxy_config};

const FILE: &str = "weir.yaml";

/// The most lines a YAML reader can count in `text` (any of CR, LF, CRLF, NEL, LS, PS as
/// a break), plus the line after the last.
fn max_line(text: &str) -> u64 {
    let breaks = text
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    breaks as u64 + 2
}

fuzz_target!(|data: &[u8]| {
    // The file is read as UTF-8 text first; the loader only ever sees a `&str`.
    let text = String::from_utf8_lossy(data);
    match parse_proxy_config(FILE, &text, 1) {
        Ok(config) => {
            if let Err(e) = validate_proxy_config(&config, FILE) {
                panic!("a configuration the loader accepted fails validation again: {e}");
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "rejected without an error");
            let last = max_line(&text);
            for e in &errors.0 {
                assert_eq!(e.file, FILE);
                assert!(
                    e.line <= last,
                    "an error at line {} of a {}-line file: {e}",
                    e.line,
                    last - 1
                );
                let _ = e.to_string();
            }
        }
    }
});
