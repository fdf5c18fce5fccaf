//! Control metrics with Argo's names, so existing dashboards keep working:
//! `rollout_info`, `analysis_run_info`, `analysis_run_metric_phase`, `experiment_info`.

use super::controller::Controller;
use super::documents;
use std::fmt::Write;

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(controller: &Controller, out: &mut String) {
    let inner = controller.inner.lock();
    let _ = writeln!(out, "# HELP rollout_info Information about a Rollout.");
    let _ = writeln!(out, "# TYPE rollout_info gauge");
    for (name, slot) in &inner.slots {
        let ns = documents::namespace(&slot.rollout);
        let phase = slot.record.engine.status.phase.clone();
        let _ = writeln!(
            out,
            "rollout_info{{namespace=\"{}\",name=\"{}\",strategy=\"{}\",phase=\"{}\"}} 1",
            esc(&ns),
            esc(name),
            documents::strategy(&slot.rollout),
            esc(&phase)
        );
    }
    let _ = writeln!(
        out,
        "# HELP analysis_run_info Information about an AnalysisRun."
    );
    let _ = writeln!(out, "# TYPE analysis_run_info gauge");
    let _ = writeln!(
        out,
        "# HELP analysis_run_metric_phase The phase of each metric of an AnalysisRun."
    );
    let _ = writeln!(out, "# TYPE analysis_run_metric_phase gauge");
    let mut metric_lines = String::new();
    let rollout_runs = inner
        .slots
        .values()
        .map(|slot| (documents::namespace(&slot.rollout), &slot.runs));
    let experiment_runs = inner.experiments.values().map(|slot| {
        (
            documents::namespace_of(&slot.experiment.metadata),
            &slot.runs,
        )
    });
    for (ns, runs) in rollout_runs.chain(experiment_runs) {
        let ns = esc(&ns);
        for (run, live) in runs {
            let _ = writeln!(
                out,
                "analysis_run_info{{namespace=\"{ns}\",name=\"{}\",phase=\"{}\"}} 1",
                esc(run),
                live.run.phase().as_str()
            );
            for (m, provider) in live.run.metrics().iter().zip(&live.providers) {
                let phase = live
                    .run
                    .metric_result(&m.name)
                    .map(|r| r.phase.as_str())
                    .unwrap_or("Pending");
                let kinds = provider.names();
                let kind = kinds.first().map(String::as_str).unwrap_or("unknown");
                let _ = writeln!(
                    metric_lines,
                    "analysis_run_metric_phase{{namespace=\"{ns}\",name=\"{}\",metric=\"{}\",type=\"{kind}\",phase=\"{phase}\"}} 1",
                    esc(run),
                    esc(&m.name)
                );
            }
        }
    }
    out.push_str(&metric_lines);
    drop(inner);
    let _ = writeln!(
        out,
        "# HELP experiment_info Information about an Experiment."
    );
    let _ = writeln!(out, "# TYPE experiment_info gauge");
    for e in controller.experiments() {
        let phase = e.status.as_ref().map(|s| s.phase.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "experiment_info{{namespace=\"{}\",name=\"{}\",phase=\"{}\"}} 1",
            esc(e.metadata.namespace.as_deref().unwrap_or("default")),
            esc(e.metadata.name.as_deref().unwrap_or("")),
            esc(phase)
        );
    }
}
