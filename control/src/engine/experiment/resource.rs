//! A `kind: Experiment` written by a user (not made by a Rollout), run through the same
//! machine. In standalone mode each template names its version by `service.name`: a
//! service of the config whose endpoints the adapter serves as the template's backend.

use weir_config::argo::{AnalysisRunArgument, Experiment};

use super::machine::{reconcile, ExperimentInputs, ExperimentOutcome};
use super::{ExperimentBackend, ExperimentPlan, PlannedAnalysis};

/// The plan of a `kind: Experiment`. Argo passes an analysis only its arguments' `value`
/// (`valueFrom` is dropped when an Experiment makes its runs), and so does weir.
pub fn plan_of(experiment: &Experiment) -> ExperimentPlan {
    let spec = &experiment.spec;
    ExperimentPlan {
        name: experiment.metadata.name.clone().unwrap_or_default(),
        templates: spec
            .templates
            .iter()
            .map(|t| ExperimentBackend {
                name: t.name.clone(),
                spec_ref: t
                    .service
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                weight: None,
            })
            .collect(),
        duration: spec.duration.clone(),
        progress_deadline_seconds: spec.progress_deadline_seconds,
        analyses: spec
            .analyses
            .iter()
            .map(|a| PlannedAnalysis {
                name: a.name.clone(),
                template_name: a.template_name.clone(),
                cluster_scope: a.cluster_scope,
                args: a
                    .args
                    .iter()
                    .map(|arg| AnalysisRunArgument {
                        name: arg.name.clone(),
                        value: arg.value.clone(),
                        value_from: None,
                    })
                    .collect(),
                required_for_completion: a.required_for_completion,
            })
            .collect(),
        dry_run: spec.dry_run.clone(),
        measurement_retention: spec.measurement_retention.clone(),
        terminate: spec.terminate,
    }
}

/// One reconcile of a standalone Experiment from the status it carries. The adapter stores
/// `status` back into the Experiment, carries out `actions` (its analysis runs, with kind
/// [`crate::engine::AnalysisKind::Background`], and events) and `experiments` (its
/// backends), and calls again by `requeue_at` or when an observation changes.
///
/// Each template's status names its service (`serviceName`, where Argo names the Service it
/// made for the template).
pub fn run_experiment(experiment: &Experiment, inputs: &ExperimentInputs<'_>) -> ExperimentOutcome {
    let prev = experiment.status.clone().unwrap_or_default();
    let plan = plan_of(experiment);
    let mut out = reconcile(&plan, &prev, inputs);
    for status in &mut out.status.template_statuses {
        if let Some(t) = plan.templates.iter().find(|t| t.name == status.name) {
            status.service_name.clone_from(&t.spec_ref);
        }
    }
    out
}
