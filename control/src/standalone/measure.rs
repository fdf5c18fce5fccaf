//! Taking the measurements the analysis runs ask for, through the providers, and handing
//! the answers back to their runs.

use super::controller::Controller;
use super::runs::LiveRun;
use crate::analysis::{MeasureRequest, MeasurementResult};
use crate::providers::{self, ProviderContext};
use std::collections::BTreeMap;
use std::sync::Arc;
use weir_config::argo::MetricProvider;

impl Controller {
    /// Takes the due measurements concurrently and hands the answers to their runs.
    pub(super) async fn measure_all(&self, work: Vec<Work>) {
        let windows: Arc<dyn providers::WindowSource> = self.proxy.clone();
        let results = futures_util::future::join_all(work.into_iter().map(|w| {
            let ctx = ProviderContext {
                roles: w.roles.clone(),
                windows: windows.clone(),
                http: self.http.clone(),
                now: std::time::Instant::now(),
            };
            async move {
                let answer = match &w.provider {
                    Some(p) => providers::measure(p, &ctx).await,
                    None => MeasurementResult::Error(format!(
                        "metric {} has no provider",
                        w.request.metric
                    )),
                };
                (w, answer)
            }
        }))
        .await;
        let mut inner = self.inner.lock();
        for (w, answer) in results {
            let runs = match &w.owner {
                Owner::Rollout(name) => inner.slots.get_mut(name).map(|s| &mut s.runs),
                Owner::Experiment(name) => inner.experiments.get_mut(name).map(|s| &mut s.runs),
            };
            if let Some(live) = runs.and_then(|runs| runs.get_mut(&w.run)) {
                live.pending.push((w.request.metric.clone(), answer));
            }
        }
    }
}

/// Whose analysis run a measurement is for.
pub(super) enum Owner {
    Rollout(String),
    Experiment(String),
}

/// One measurement to take.
pub(super) struct Work {
    owner: Owner,
    run: String,
    request: MeasureRequest,
    provider: Option<MetricProvider>,
    roles: BTreeMap<String, String>,
}

impl Work {
    pub(super) fn new(
        owner: Owner,
        run: &str,
        live: &LiveRun,
        request: MeasureRequest,
        roles: &BTreeMap<String, String>,
    ) -> Work {
        Work {
            owner,
            run: run.to_string(),
            provider: live.providers.get(request.index).cloned(),
            request,
            roles: roles.clone(),
        }
    }
}
