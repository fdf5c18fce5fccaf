//! The patch strategies of the built-in types' fields: which lists merge by which key
//! (`patchStrategy:"merge" patchMergeKey:"..."` in `k8s.io/api`), which primitive lists
//! merge as sets, which structs honour `$retainKeys`. Fields not listed merge as maps
//! or are replaced as lists, as strategic merge patch does for fields without tags.

/// What a field is, for strategic merge patch.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    /// A struct (merged recursively with these field rules).
    Struct(&'static Type),
    /// A list merged element by element on `key`; elements are `elem`.
    MergeList {
        key: &'static str,
        elem: &'static Type,
    },
    /// A list of primitives merged as a set (`finalizers`).
    PrimitiveSet,
}

#[derive(Debug)]
pub struct Type {
    pub fields: &'static [(&'static str, Field)],
    /// `patchStrategy:"retainKeys"` on the struct's own field (volumes, strategy).
    pub retain_keys: bool,
}

impl Type {
    pub fn field(&self, name: &str) -> Option<Field> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }
}

pub static ANY: Type = Type {
    fields: &[],
    retain_keys: false,
};

static OWNER_REF: Type = Type {
    fields: &[],
    retain_keys: false,
};

pub static OBJECT_META: Type = Type {
    fields: &[
        ("finalizers", Field::PrimitiveSet),
        (
            "ownerReferences",
            Field::MergeList {
                key: "uid",
                elem: &OWNER_REF,
            },
        ),
    ],
    retain_keys: false,
};

static CONDITION: Type = Type {
    fields: &[],
    retain_keys: false,
};

static CONTAINER: Type = Type {
    fields: &[
        (
            "ports",
            Field::MergeList {
                key: "containerPort",
                elem: &ANY,
            },
        ),
        (
            "env",
            Field::MergeList {
                key: "name",
                elem: &ANY,
            },
        ),
        (
            "volumeMounts",
            Field::MergeList {
                key: "mountPath",
                elem: &ANY,
            },
        ),
        (
            "volumeDevices",
            Field::MergeList {
                key: "devicePath",
                elem: &ANY,
            },
        ),
    ],
    retain_keys: false,
};

static VOLUME: Type = Type {
    fields: &[],
    retain_keys: true,
};

pub static POD_SPEC: Type = Type {
    fields: &[
        (
            "containers",
            Field::MergeList {
                key: "name",
                elem: &CONTAINER,
            },
        ),
        (
            "initContainers",
            Field::MergeList {
                key: "name",
                elem: &CONTAINER,
            },
        ),
        (
            "ephemeralContainers",
            Field::MergeList {
                key: "name",
                elem: &CONTAINER,
            },
        ),
        (
            "volumes",
            Field::MergeList {
                key: "name",
                elem: &VOLUME,
            },
        ),
        (
            "imagePullSecrets",
            Field::MergeList {
                key: "name",
                elem: &ANY,
            },
        ),
        (
            "hostAliases",
            Field::MergeList {
                key: "ip",
                elem: &ANY,
            },
        ),
        (
            "topologySpreadConstraints",
            Field::MergeList {
                key: "topologyKey",
                elem: &ANY,
            },
        ),
        (
            "resourceClaims",
            Field::MergeList {
                key: "name",
                elem: &ANY,
            },
        ),
        (
            "schedulingGates",
            Field::MergeList {
                key: "name",
                elem: &ANY,
            },
        ),
    ],
    retain_keys: false,
};

static POD_TEMPLATE: Type = Type {
    fields: &[
        ("metadata", Field::Struct(&OBJECT_META)),
        ("spec", Field::Struct(&POD_SPEC)),
    ],
    retain_keys: false,
};

static CONDITIONS_STATUS: Type = Type {
    fields: &[(
        "conditions",
        Field::MergeList {
            key: "type",
            elem: &CONDITION,
        },
    )],
    retain_keys: false,
};

static POD_STATUS: Type = Type {
    fields: &[
        (
            "conditions",
            Field::MergeList {
                key: "type",
                elem: &CONDITION,
            },
        ),
        (
            "podIPs",
            Field::MergeList {
                key: "ip",
                elem: &ANY,
            },
        ),
    ],
    retain_keys: false,
};

static DEPLOYMENT_STRATEGY: Type = Type {
    fields: &[],
    retain_keys: true,
};

static WORKLOAD_SPEC: Type = Type {
    fields: &[
        ("template", Field::Struct(&POD_TEMPLATE)),
        ("strategy", Field::Struct(&DEPLOYMENT_STRATEGY)),
    ],
    retain_keys: false,
};

static SERVICE_SPEC: Type = Type {
    fields: &[(
        "ports",
        Field::MergeList {
            key: "port",
            elem: &ANY,
        },
    )],
    retain_keys: false,
};

macro_rules! object {
    ($name:ident, $spec:expr, $status:expr) => {
        static $name: Type = Type {
            fields: &[
                ("metadata", Field::Struct(&OBJECT_META)),
                ("spec", Field::Struct($spec)),
                ("status", Field::Struct($status)),
            ],
            retain_keys: false,
        };
    };
}

object!(POD, &POD_SPEC, &POD_STATUS);
object!(WORKLOAD, &WORKLOAD_SPEC, &CONDITIONS_STATUS);
object!(SERVICE, &SERVICE_SPEC, &CONDITIONS_STATUS);
object!(GENERIC, &ANY, &CONDITIONS_STATUS);

/// The root type of a built-in resource (`group/resource`).
pub fn root(type_name: &str) -> &'static Type {
    match type_name {
        "pods" => &POD,
        "services" => &SERVICE,
        "apps/deployments" | "apps/replicasets" | "batch/jobs" => &WORKLOAD,
        _ => &GENERIC,
    }
}
