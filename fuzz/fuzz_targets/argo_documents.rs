//! Argo Rollouts manifests as weir reads them: the multi-document loader
//! (`weir_config::argo::parse_documents_lenient`: split, dispatch on kind, typed
//! resources with their source maps), `weir lint`'s rules across files
//! (`weir_config::lint::lint_files`), and `weir run`'s file (`parse_run_file`: lint, the
//! proxy document, the checks that tie them together).
//!
//! Input: up to three files, separated by NUL bytes (a Rollout in one may use a template
//! from another).
//!
//! Never panics, and every error and document names a file given and a line inside it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_config::argo::parse_documents_lenient;
use weir_config::lint::lint_files;
use weir_control::standalone::documents::parse_run_file;

/// The most lines a YAML reader can count in `text`, plus the line after the last.
fn max_line(text: &str) -> usize {
    text.chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count()
        + 2
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let files: Vec<(String, String)> = text
        .splitn(3, '\0')
        .enumerate()
        .map(|(i, t)| (format!("f{i}.yaml"), t.to_string()))
        .collect();
    for (name, text) in &files {
        let (docs, errors) = parse_documents_lenient(name, text);
        let last = max_line(text);
        for d in &docs {
            assert!(
                (1..=last).contains(&d.line()),
                "a document at line {} of a file of {} lines",
                d.line(),
                last - 1
            );
        }
        for e in &errors {
            assert_eq!(&e.file, name);
            assert!(
                e.line <= last,
                "an error at line {} past the end: {e}",
                e.line
            );
        }
    }
    for e in lint_files(&files) {
        let Some((_, text)) = files.iter().find(|(n, _)| *n == e.file) else {
            panic!("lint names a file it was not given: {e}");
        };
        assert!(
            e.line <= max_line(text),
            "lint: line {} past the end: {e}",
            e.line
        );
    }
    let (name, text) = &files[0];
    let _ = parse_run_file(name, text);
});
