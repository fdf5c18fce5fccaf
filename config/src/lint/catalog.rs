//! Every AnalysisTemplate and ClusterAnalysisTemplate of the files being linted, by name,
//! so references resolve across files.

use std::collections::HashMap;

use crate::argo::{AnalysisTemplateSpec, Document};

pub(crate) struct Catalog<'a> {
    templates: HashMap<&'a str, Vec<Entry<'a>>>,
    cluster_templates: HashMap<&'a str, &'a AnalysisTemplateSpec>,
}

struct Entry<'a> {
    namespace: Option<&'a str>,
    spec: &'a AnalysisTemplateSpec,
}

impl<'a> Catalog<'a> {
    pub(crate) fn new(files: &'a [(&'a str, Vec<Document>)]) -> Self {
        let mut templates: HashMap<&str, Vec<Entry>> = HashMap::new();
        let mut cluster_templates = HashMap::new();
        for (_, docs) in files {
            for doc in docs {
                match doc {
                    Document::AnalysisTemplate(d) => {
                        if let Some(name) = d.resource.metadata.name.as_deref() {
                            templates.entry(name).or_default().push(Entry {
                                namespace: d.resource.metadata.namespace.as_deref(),
                                spec: &d.resource.spec,
                            });
                        }
                    }
                    Document::ClusterAnalysisTemplate(d) => {
                        if let Some(name) = d.resource.metadata.name.as_deref() {
                            cluster_templates.insert(name, &d.resource.spec);
                        }
                    }
                    _ => {}
                }
            }
        }
        Catalog {
            templates,
            cluster_templates,
        }
    }

    /// Looks a template up the way Argo does: `clusterScope: true` finds only
    /// ClusterAnalysisTemplates, otherwise only AnalysisTemplates of the referrer's namespace
    /// (a template or referrer without a namespace matches any).
    pub(crate) fn find(
        &self,
        name: &str,
        cluster_scope: bool,
        namespace: Option<&str>,
    ) -> Option<&'a AnalysisTemplateSpec> {
        if cluster_scope {
            return self.cluster_templates.get(name).copied();
        }
        self.templates.get(name)?.iter().find_map(|e| {
            let same = match (e.namespace, namespace) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            same.then_some(e.spec)
        })
    }
}
