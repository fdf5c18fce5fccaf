//! Control metrics with Argo's names, so existing dashboards keep working:
//! `rollout_info`, `analysis_run_info`, `analysis_run_metric_phase`, `experiment_info`.
//! A `prometheus-client` collector, read from the controller at each scrape, served on the
//! admin listener's `/metrics` beside the proxy's families.

use super::controller::Controller;
use super::documents;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use std::fmt;
use std::sync::Arc;

pub struct ControlCollector(pub Arc<Controller>);

impl fmt::Debug for ControlCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlCollector")
    }
}

impl Collector for ControlCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let controller = &self.0;
        // Read under the lock, encoded after it.
        let mut rollouts = Vec::new();
        let mut runs = Vec::new();
        let mut metrics = Vec::new();
        {
            let inner = controller.inner.lock();
            for (name, slot) in &inner.slots {
                rollouts.push([
                    ("namespace", documents::namespace(&slot.rollout)),
                    ("name", name.clone()),
                    ("strategy", documents::strategy(&slot.rollout).to_string()),
                    ("phase", slot.record.engine.status.phase.clone()),
                ]);
            }
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
            for (ns, list) in rollout_runs.chain(experiment_runs) {
                for (run, live) in list {
                    runs.push([
                        ("namespace", ns.clone()),
                        ("name", run.clone()),
                        ("phase", live.run.phase().as_str().to_owned()),
                    ]);
                    for (m, provider) in live.run.metrics().iter().zip(&live.providers) {
                        let phase = live
                            .run
                            .metric_result(&m.name)
                            .map(|r| r.phase.as_str())
                            .unwrap_or("Pending");
                        let kinds = provider.names();
                        let kind = kinds.first().map(String::as_str).unwrap_or("unknown");
                        metrics.push([
                            ("namespace", ns.clone()),
                            ("name", run.clone()),
                            ("metric", m.name.clone()),
                            ("type", kind.to_owned()),
                            ("phase", phase.to_owned()),
                        ]);
                    }
                }
            }
        }
        let experiments: Vec<_> = controller
            .experiments()
            .into_iter()
            .map(|e| {
                [
                    (
                        "namespace",
                        e.metadata.namespace.clone().unwrap_or("default".into()),
                    ),
                    ("name", e.metadata.name.clone().unwrap_or_default()),
                    (
                        "phase",
                        e.status
                            .as_ref()
                            .map(|s| s.phase.clone())
                            .unwrap_or_default(),
                    ),
                ]
            })
            .collect();

        let mut family = encoder.encode_descriptor(
            "rollout_info",
            "Information about a Rollout.",
            None,
            MetricType::Gauge,
        )?;
        for labels in &rollouts {
            family.encode_family(labels)?.encode_gauge(&1u32)?;
        }
        let mut family = encoder.encode_descriptor(
            "analysis_run_info",
            "Information about an AnalysisRun.",
            None,
            MetricType::Gauge,
        )?;
        for labels in &runs {
            family.encode_family(labels)?.encode_gauge(&1u32)?;
        }
        let mut family = encoder.encode_descriptor(
            "analysis_run_metric_phase",
            "The phase of each metric of an AnalysisRun.",
            None,
            MetricType::Gauge,
        )?;
        for labels in &metrics {
            family.encode_family(labels)?.encode_gauge(&1u32)?;
        }
        let mut family = encoder.encode_descriptor(
            "experiment_info",
            "Information about an Experiment.",
            None,
            MetricType::Gauge,
        )?;
        for labels in &experiments {
            family.encode_family(labels)?.encode_gauge(&1u32)?;
        }
        Ok(())
    }
}
