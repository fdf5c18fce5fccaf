//! Loading real Argo manifests and round-tripping resources.

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
fn every_argo_example_parses() {
    let mut kinds = Vec::new();
    for (file, text) in examples() {
        let docs = parse_documents(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(!docs.is_empty(), "{file} has no documents");
        for d in docs {
            kinds.push(match d {
                Document::Rollout(_) => "Rollout".to_owned(),
                Document::AnalysisTemplate(_) => "AnalysisTemplate".to_owned(),
                Document::ClusterAnalysisTemplate(_) => "ClusterAnalysisTemplate".to_owned(),
                Document::AnalysisRun(_) => "AnalysisRun".to_owned(),
                Document::Experiment(_) => "Experiment".to_owned(),
                Document::Other { kind, .. } => kind,
                Document::Untyped { .. } => "untyped".to_owned(),
            });
        }
    }
    for kind in [
        "Rollout",
        "AnalysisTemplate",
        "ClusterAnalysisTemplate",
        "Experiment",
        "Service",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} among {kinds:?}");
    }
}
