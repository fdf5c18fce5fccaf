//! lint over Argo's examples, then one malformed input per rule, each checked for the exact
//! file, line, field and the key words of the message.

use super::*;

fn examples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/argo-examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("examples directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable example");
            (p.display().to_string(), text)
        })
        .collect()
}

#[test]
fn argo_examples_lint_clean_together() {
    let errors = lint_files(&examples());
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{}", shown.join("\n"));
}
