//! `weir lint FILE...`: Argo's validation rules over Rollouts, templates, runs and
//! experiments (references resolve across all the files given), plus weir's own proxy
//! configuration when a file holds one. Prints `file:line: field: what is wrong`.

use std::path::PathBuf;
use weir_config::argo::{parse_documents_lenient, Document};

/// Returns the number of problems found (0: all valid).
pub fn run(paths: &[PathBuf]) -> anyhow::Result<usize> {
    let mut files = Vec::new();
    for p in paths {
        let text =
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        files.push((p.display().to_string(), text));
    }
    let mut problems: Vec<String> = weir_config::lint::lint_files(&files)
        .iter()
        .map(|e| e.to_string())
        .collect();
    // A document that is not an Argo kind and has no kind at all is weir's proxy config.
    for (file, text) in &files {
        let (docs, _) = parse_documents_lenient(file, text);
        for d in docs {
            if let Document::Untyped { text, line } = d {
                if let Err(errs) = weir_config::parse_proxy_config(file, &text, line as u64) {
                    problems.extend(errs.0.iter().map(|e| e.to_string()));
                }
            }
        }
    }
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        eprintln!("{} file(s): no problems", files.len());
    }
    Ok(problems.len())
}
