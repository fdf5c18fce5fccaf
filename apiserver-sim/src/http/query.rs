//! Query parameters, and the parts of Accept/Content-Type the server negotiates on.

use std::collections::HashMap;

pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    pub fn str(&self, k: &str) -> &str {
        self.get(k).unwrap_or("")
    }
    /// A boolean parameter as the real server's parameter codec reads one.
    pub fn flag(&self, k: &str) -> bool {
        matches!(
            self.get(k),
            Some("true" | "1" | "True" | "TRUE" | "t" | "T")
        )
    }
    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
    pub fn write_opts(&self) -> crate::store::WriteOpts {
        crate::store::WriteOpts {
            dry_run: self.dry_run(),
            strict: self.get("fieldValidation") == Some("Strict"),
        }
    }
}

/// What the client accepts, as far as this server can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Json,
    Table,
    PartialObjectMetadata,
    AggregatedDiscovery,
    /// Nothing this server speaks (protobuf only, ...).
    Unacceptable,
}

/// Read `Accept` in order of preference: the first media type this server can produce.
pub fn negotiate(accept: &str) -> Want {
    if accept.trim().is_empty() {
        return Want::Json;
    }
    for part in accept.split(',') {
        let mut fields = part.split(';').map(str::trim);
        let mt = fields.next().unwrap_or("");
        let params: HashMap<&str, &str> = fields.filter_map(|f| f.split_once('=')).collect();
        if mt != "application/json" && mt != "*/*" && mt != "application/*" {
            continue;
        }
        match (
            params.get("as").copied(),
            params.get("g").copied(),
            params.get("v").copied(),
        ) {
            (None, _, _) => return Want::Json,
            (Some("Table"), Some("meta.k8s.io"), Some("v1")) => return Want::Table,
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1"),
            ) => return Want::PartialObjectMetadata,
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                return Want::AggregatedDiscovery
            }
            _ => continue,
        }
    }
    Want::Unacceptable
}
