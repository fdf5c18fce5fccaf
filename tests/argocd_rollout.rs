//! Argo CD's health check and resource actions for `argoproj.io/Rollout`, run on what
//! `weir controller` writes.
//!
//! Argo CD judges a Rollout with its own Lua script (`health.lua`) and offers the actions of
//! `actions/` (resume, promote-full, abort, retry, restart, pause, skip-current-step), each a
//! Lua script that edits the object; Argo CD then sends the difference as a JSON merge patch,
//! its `status` part to the status subresource. The scripts and Argo CD's own cases for them
//! are vendored, unmodified, in `config/tests/data/argocd-rollout/`. Here they run in Lua 5.1
//! (what Argo CD's gopher-lua implements) with `obj` converted as Argo CD converts it:
//! first Argo CD's own cases (the runner is faithful), then on the Rollouts `weir controller`
//! writes against the in-memory API server, phase by phase, and through every action.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mlua::{Lua, LuaOptions, StdLib, Value as LuaValue};
use serde_json::{json, Map, Value};
use support::kube::{assert_allowed_by_rbac, merge_patch, rollout_path, rs_name, Controller};
use weir_apiserver_sim::{ApiServer, Options};

// ---------------------------------------------------------------------------------------
// The Lua runner: Argo CD's util/lua VM, as far as the Rollout scripts need it.
// ---------------------------------------------------------------------------------------

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/config/tests/data/argocd-rollout"
);
const HEALTH_LUA: &str = include_str!("../config/tests/data/argocd-rollout/health.lua");
const DISCOVERY_LUA: &str =
    include_str!("../config/tests/data/argocd-rollout/actions/discovery.lua");

fn action_lua(action: &str) -> &'static str {
    match action {
        "abort" => include_str!("../config/tests/data/argocd-rollout/actions/abort/action.lua"),
        "pause" => include_str!("../config/tests/data/argocd-rollout/actions/pause/action.lua"),
        "promote-full" => {
            include_str!("../config/tests/data/argocd-rollout/actions/promote-full/action.lua")
        }
        "restart" => {
            include_str!("../config/tests/data/argocd-rollout/actions/restart/action.lua")
        }
        "resume" => include_str!("../config/tests/data/argocd-rollout/actions/resume/action.lua"),
        "retry" => include_str!("../config/tests/data/argocd-rollout/actions/retry/action.lua"),
        "skip-current-step" => {
            include_str!("../config/tests/data/argocd-rollout/actions/skip-current-step/action.lua")
        }
        other => panic!("Argo CD has no Rollout action {other:?}"),
    }
}

/// Argo CD's health of a resource: a status code and a message ("" when none).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Health {
    status: String,
    message: String,
}

impl Health {
    fn new(status: &str, message: &str) -> Health {
        Health {
            status: status.into(),
            message: message.into(),
        }
    }
}

/// A Lua state for a script: health checks run with the standard libraries open (Argo CD's
/// built-in scripts do); actions and discovery with only base, package, table and a "safe"
/// os of `time` and `date` (Argo CD's API server runs them so).
fn lua_state(open_libs: bool) -> Lua {
    if open_libs {
        return Lua::new();
    }
    let lua = Lua::new_with(
        StdLib::PACKAGE | StdLib::TABLE | StdLib::OS,
        LuaOptions::default(),
    )
    .unwrap();
    lua.load("os = {time = os.time, date = os.date}; package.loaded.os = os")
        .exec()
        .unwrap();
    lua
}

/// JSON to Lua as Argo CD's `decodeValue` does it: objects and arrays (from 1) to tables,
/// numbers to Lua numbers, null to nil.
fn to_lua(lua: &Lua, v: &Value) -> LuaValue {
    match v {
        Value::Null => LuaValue::Nil,
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Number(n) => LuaValue::Number(n.as_f64().unwrap()),
        Value::String(s) => LuaValue::String(lua.create_string(s).unwrap()),
        Value::Array(items) => {
            let t = lua.create_table().unwrap();
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)).unwrap();
            }
            LuaValue::Table(t)
        }
        Value::Object(fields) => {
            let t = lua.create_table().unwrap();
            for (k, item) in fields {
                t.raw_set(k.as_str(), to_lua(lua, item)).unwrap();
            }
            LuaValue::Table(t)
        }
    }
}

/// Lua to JSON as Argo CD's encoder (gopher-json) does it: an empty table is `[]`, a table
/// keyed 1..n an array, one keyed by strings an object; numbers go through float64, so an
/// integral one comes back as an integer once Argo CD decodes the JSON.
fn from_lua(v: &LuaValue) -> Result<Value, String> {
    Ok(match v {
        LuaValue::Nil => Value::Null,
        LuaValue::Boolean(b) => Value::Bool(*b),
        LuaValue::Integer(i) => json!(*i),
        LuaValue::Number(n) => number(*n),
        LuaValue::String(s) => Value::String(s.to_str().map_err(|e| e.to_string())?.to_owned()),
        LuaValue::Table(t) => {
            let mut numbered = BTreeMap::new();
            let mut named = Map::new();
            for pair in t.pairs::<LuaValue, LuaValue>() {
                let (k, item) = pair.map_err(|e| e.to_string())?;
                match k {
                    LuaValue::Integer(i) => {
                        numbered.insert(i, from_lua(&item)?);
                    }
                    LuaValue::Number(n) if n.fract() == 0.0 => {
                        numbered.insert(n as i64, from_lua(&item)?);
                    }
                    LuaValue::String(s) => {
                        let key = s.to_str().map_err(|e| e.to_string())?.to_owned();
                        named.insert(key, from_lua(&item)?);
                    }
                    other => return Err(format!("invalid key {other:?}")),
                }
            }
            match (numbered.is_empty(), named.is_empty()) {
                (true, true) => Value::Array(vec![]),
                (true, false) => Value::Object(named),
                (false, true) => {
                    if numbered.keys().copied().ne(1..=numbered.len() as i64) {
                        return Err("sparse array".into());
                    }
                    Value::Array(numbered.into_values().collect())
                }
                (false, false) => return Err("a table with both kinds of keys".into()),
            }
        }
        other => return Err(format!("cannot encode {} to JSON", other.type_name())),
    })
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// Runs `script` with the global `obj` and returns what it returned, as JSON.
fn run_lua(script: &str, name: &str, obj: &Value, open_libs: bool) -> Value {
    let lua = lua_state(open_libs);
    lua.globals().set("obj", to_lua(&lua, obj)).unwrap();
    let out: LuaValue = lua
        .load(script)
        .set_name(name)
        .eval()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    from_lua(&out).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Argo CD's health of a Rollout: `health.lua` on it (`ExecuteHealthLua`).
fn health(obj: &Value) -> Health {
    let out = run_lua(HEALTH_LUA, "health.lua", obj, true);
    // An empty table (encoded `[]`) is an empty health.
    let status = out["status"].as_str().unwrap_or_default();
    if !matches!(
        status,
        "Unknown" | "Progressing" | "Suspended" | "Healthy" | "Degraded" | "Missing"
    ) {
        return Health::new("Unknown", "Lua returned an invalid health status");
    }
    Health::new(status, out["message"].as_str().unwrap_or_default())
}

/// The actions Argo CD offers on `obj`: name -> (disabled, displayName).
fn discovery(obj: &Value) -> BTreeMap<String, (bool, String)> {
    let out = run_lua(DISCOVERY_LUA, "discovery.lua", obj, false);
    let mut actions = BTreeMap::new();
    // `{}` (no field set, or all nil) encodes as `[]`: an enabled action without a name.
    for (name, a) in out.as_object().into_iter().flatten() {
        actions.insert(
            name.clone(),
            (
                a["disabled"].as_bool().unwrap_or(false),
                a["displayName"].as_str().unwrap_or_default().to_owned(),
            ),
        );
    }
    actions
}

/// The object `action` makes of `obj` (`ExecuteResourceAction`, including Argo CD's fix-up of
/// empty objects the encoder turned into empty arrays).
fn act(action: &str, obj: &Value) -> Value {
    let out = run_lua(action_lua(action), action, obj, false);
    assert!(out.is_object(), "{action} returned {out}");
    cleaned(out, obj)
}

/// Where the old object had an object and the action's result has `[]`, `{}` again
/// (Argo CD's `cleanReturnedObj`): Lua cannot tell an empty object from an empty array.
fn cleaned(new: Value, old: &Value) -> Value {
    match (new, old) {
        (Value::Object(mut fields), Value::Object(old)) => {
            for (k, o) in old {
                if let Some(n) = fields.remove(k) {
                    let n = match (&n, o) {
                        (Value::Array(a), Value::Object(_)) if a.is_empty() => json!({}),
                        _ => cleaned(n, o),
                    };
                    fields.insert(k.clone(), n);
                }
            }
            Value::Object(fields)
        }
        (Value::Array(items), Value::Array(old)) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| match old.get(i) {
                    // Argo CD recurses into arrays but only fixes empty arrays under keys.
                    Some(o @ Value::Object(_)) if n.is_object() => cleaned(n, o),
                    Some(o @ Value::Array(_)) if n.is_array() => cleaned(n, o),
                    _ => n,
                })
                .collect(),
        ),
        (new, _) => new,
    }
}

/// JSON values equal as Argo CD's Go code compares them (numbers as float64).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The JSON merge patch from `old` to `new` (`jsonpatch.CreateMergePatch`): changed and
/// added keys with their new values, removed keys null, objects recursed into, arrays whole.
fn merge_diff(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, n) in new {
        match (old.get(k), n) {
            (None, _) => {
                out.insert(k.clone(), n.clone());
            }
            (Some(Value::Object(o)), Value::Object(n)) => {
                let d = merge_diff(o, n);
                if !d.is_empty() {
                    out.insert(k.clone(), Value::Object(d));
                }
            }
            (Some(o), n) if !same(o, n) => {
                out.insert(k.clone(), n.clone());
            }
            _ => {}
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

/// What Argo CD sends for `action` on the Rollout as it is now (`RunResourceActionV2` and
/// `patchResource`): the merge patch from the live object to the action's result; when it
/// touches `status`, the whole patch to the status subresource (which keeps only its status
/// part), then the rest, if any, to the Rollout. Returns the patch.
async fn run_action(server: &ApiServer, name: &str, action: &str) -> Value {
    let live = support::kube::rollout(server, name);
    let new = act(action, &live);
    let mut patch = merge_diff(live.as_object().unwrap(), new.as_object().unwrap());
    let path = rollout_path(name);
    if patch.contains_key("status") {
        merge_patch(
            server,
            &format!("{path}/status"),
            Value::Object(patch.clone()),
        )
        .await;
        let whole = Value::Object(patch.clone());
        patch.remove("status");
        if !patch.is_empty() {
            merge_patch(server, &path, Value::Object(patch)).await;
        }
        return whole;
    }
    if !patch.is_empty() {
        merge_patch(server, &path, Value::Object(patch.clone())).await;
    }
    Value::Object(patch)
}

fn read_yaml(path: &str) -> Value {
    let text =
        std::fs::read_to_string(format!("{DATA}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------------------
// Argo CD's own cases through the runner.
// ---------------------------------------------------------------------------------------

/// Every case of Argo CD's `health_test.yaml` (none needs anything this runner lacks).
#[test]
fn argo_cds_own_health_cases_pass_through_the_runner() {
    let tests = read_yaml("health_test.yaml");
    let cases = tests["tests"].as_array().unwrap();
    assert!(cases.len() >= 20, "{}", cases.len());
    for case in cases {
        let input = case["inputPath"].as_str().unwrap();
        let want = Health::new(
            case["healthStatus"]["status"].as_str().unwrap(),
            case["healthStatus"]["message"].as_str().unwrap_or_default(),
        );
        assert_eq!(health(&read_yaml(input)), want, "{input}");
    }
}

/// Argo CD's `action_test.yaml`: every discovery case (each action found is one the case
/// lists, with the same `disabled` and display name) and every action case (the result
/// equals the expected object; `spec.restartAt`, the clock's, is only checked for its
/// form, where Argo CD's test blanks it).
#[test]
fn argo_cds_own_action_cases_pass_through_the_runner() {
    let tests = read_yaml("actions/action_test.yaml");
    for case in tests["discoveryTests"].as_array().unwrap() {
        let input = case["inputPath"].as_str().unwrap();
        let want: Vec<(String, bool, String)> = case["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_owned(),
                    a["disabled"].as_bool().unwrap_or(false),
                    a["displayName"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let found = discovery(&read_yaml(&format!("actions/{input}")));
        assert_eq!(found.len(), want.len(), "{input}: {found:?}");
        for (name, (disabled, display)) in found {
            assert!(
                want.contains(&(name.clone(), disabled, display.clone())),
                "{input}: {name} disabled={disabled} {display:?} is not in {want:?}"
            );
        }
    }
    let cases = tests["actionTests"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let action = case["action"].as_str().unwrap();
        let input = read_yaml(&format!("actions/{}", case["inputPath"].as_str().unwrap()));
        let want = read_yaml(&format!(
            "actions/{}",
            case["expectedOutputPath"].as_str().unwrap()
        ));
        // A null in the expected object means the key is absent: Argo CD's test compares
        // with gitops-engine's diff, which merges the expected object into the result as
        // a patch, where null removes.
        let mut want = without_nulls(want);
        let mut got = act(action, &input);
        if action == "restart" {
            let at = got["spec"]["restartAt"].as_str().unwrap().to_owned();
            assert!(is_rfc3339_utc(&at), "{at}");
            got["spec"]["restartAt"] = Value::Null;
            want["spec"]["restartAt"] = Value::Null;
        }
        assert!(
            same(&got, &want),
            "{action} on {}:\n got {}\nwant {}",
            case["inputPath"],
            serde_json::to_string_pretty(&got).unwrap(),
            serde_json::to_string_pretty(&want).unwrap()
        );
    }
}

/// `v` without the object keys whose value is null, at any depth.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(_, item)| !item.is_null())
                .map(|(k, item)| (k, without_nulls(item)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// The clock as the restart action writes it.
fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    weir_control::engine::clock::format_time(weir_control::analysis::Timestamp::from_millis(
        now.as_millis() as u64,
    ))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as the restart action writes it.
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

// ---------------------------------------------------------------------------------------
// weir's controller, watched through Argo CD's eyes.
// ---------------------------------------------------------------------------------------

use support::kube::{rollout_canary, CANARY_SERVICES};

/// An API server whose pods take a while to become ready, so that the Progressing stretches
/// of a rollout last long enough to be seen.
async fn server() -> ApiServer {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(800),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
}

/// One Rollout watched as Argo CD watches it: every read is judged by health.lua, checked
/// against what Argo CD must never show, and the health changes are recorded.
struct ArgoCd<'a> {
    server: &'a ApiServer,
    controller: &'a Controller,
    name: &'static str,
    /// (health, currentStepIndex) at each change of health.
    seen: Vec<(Health, Value)>,
}

impl<'a> ArgoCd<'a> {
    fn new(server: &'a ApiServer, controller: &'a Controller, name: &'static str) -> Self {
        ArgoCd {
            server,
            controller,
            name,
            seen: Vec::new(),
        }
    }

    /// Polls until `check` holds on the Rollout, its ReplicaSets (name -> (spec, ready)) and
    /// Argo CD's health of it; panics after 30 s, or at once on a health Argo CD must not
    /// show.
    async fn until(
        &mut self,
        what: &str,
        check: impl Fn(&Value, &BTreeMap<String, (i64, i64)>, &Health) -> bool,
    ) -> (Value, Health) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = support::kube::rollout(self.server, self.name);
            let sets = support::kube::replica_sets(self.server);
            let h = health(&r);
            if let Err(e) = argo_cd_would_show(&r, &h) {
                panic!(
                    "{what}: {e}\nstatus {}\nseen {:?}\nlog:\n{}",
                    serde_json::to_string_pretty(&r["status"]).unwrap(),
                    self.seen,
                    self.controller.logs()
                );
            }
            if self.seen.last().map(|(last, _)| last) != Some(&h) {
                self.seen
                    .push((h.clone(), r["status"]["currentStepIndex"].clone()));
            }
            if check(&r, &sets, &h) {
                return (r, h);
            }
            assert!(
                Instant::now() < deadline,
                "never {what}:\nhealth {h:?}\nstatus {}\nreplica sets {sets:?}\nseen {:?}\nlog:\n{}",
                serde_json::to_string_pretty(&r["status"]).unwrap(),
                self.seen,
                self.controller.logs()
            );
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    /// The health changes seen from `from` on.
    fn since(&self, from: usize) -> Vec<Health> {
        self.seen[from..].iter().map(|(h, _)| h.clone()).collect()
    }

    async fn set_image(&self, image: &str) {
        merge_patch(
            self.server,
            &rollout_path(self.name),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": image, "imagePullPolicy": "Always", "ports": [{"containerPort": 8080}]}]}}}}),
        )
        .await;
    }

    /// Runs Argo CD's `action` (it must be offered and enabled) and returns the patch sent.
    async fn action(&self, action: &str) -> Value {
        let r = support::kube::rollout(self.server, self.name);
        let offered = discovery(&r);
        assert_eq!(
            offered.get(action).map(|a| a.0),
            Some(false),
            "Argo CD does not offer {action} on {}: {offered:?}",
            r["status"]
        );
        let patch = run_action(self.server, self.name, action).await;
        eprintln!("{action}: {patch}");
        patch
    }
}

/// What Argo CD's health of a Rollout must be, whatever its phase: a health it knows (an
/// unknown phase shows as Unknown); and Healthy only when Argo Rollouts would say so, which
/// its `CalculateRolloutPhase` never does while replicas are still to be updated or to
/// become available, or (basic canary) old replicas are still to go.
fn argo_cd_would_show(r: &Value, h: &Health) -> Result<(), String> {
    if h.status == "Unknown" {
        return Err(format!("Argo CD would show {h:?}"));
    }
    if h.status == "Healthy" {
        let n = |v: &Value| v.as_i64().unwrap_or(0);
        let s = &r["status"];
        let desired = r["spec"]["replicas"].as_i64().unwrap_or(1);
        if n(&s["updatedReplicas"]) < desired {
            return Err(format!(
                "Healthy with {} of {desired} replicas updated (Argo: \"more replicas need to be updated\")",
                n(&s["updatedReplicas"])
            ));
        }
        if n(&s["availableReplicas"]) < n(&s["updatedReplicas"]) {
            return Err(format!(
                "Healthy with {} of {} updated replicas available (Argo: \"updated replicas are still becoming available\")",
                n(&s["availableReplicas"]),
                n(&s["updatedReplicas"])
            ));
        }
        let basic_canary = !r["spec"]["strategy"]["canary"].is_null()
            && r["spec"]["strategy"]["canary"]["trafficRouting"].is_null();
        if basic_canary && n(&s["replicas"]) > n(&s["updatedReplicas"]) {
            return Err(format!(
                "Healthy with {} replicas of which {} updated (Argo: \"old replicas are pending termination\")",
                n(&s["replicas"]),
                n(&s["updatedReplicas"])
            ));
        }
    }
    Ok(())
}

/// The pods of Rollout `app` (its pods' `app` label) not being deleted: (name,
/// creationTimestamp).
fn rollout_pods(server: &ApiServer, app: &str) -> Vec<(String, String)> {
    server
        .list("v1", "Pod", "default")
        .unwrap()
        .into_iter()
        .filter(|p| {
            p["metadata"]["labels"]["app"] == app && p["metadata"]["deletionTimestamp"].is_null()
        })
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap().to_owned(),
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

fn suspended(msg: &str) -> Health {
    Health::new("Suspended", msg)
}

fn healthy() -> Health {
    Health::new("Healthy", "")
}

fn is_aborted(h: &Health) -> bool {
    h.status == "Degraded"
        && h.message
            .starts_with("RolloutAborted: Rollout aborted update to revision ")
}

/// Which actions Argo CD offers enabled.
fn enabled(r: &Value) -> Vec<String> {
    discovery(r)
        .into_iter()
        .filter(|(_, (disabled, _))| !disabled)
        .map(|(name, _)| name)
        .collect()
}

/// Argo's canary example from first sight to done, through resume, pause and promote-full:
/// Progressing while it rolls out, Suspended at each pause (step and manual), Healthy when
/// done, and the controller acting on each action's patches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_health_through_resume_pause_and_promote_full() {
    let server = server().await;
    server.apply_yaml(CANARY_SERVICES).unwrap();
    server.apply_yaml(&rollout_canary()).unwrap();
    // Before any controller saw it.
    let fresh = support::kube::rollout(&server, "rollout-canary");
    assert_eq!(
        health(&fresh),
        Health::new(
            "Progressing",
            "Waiting for rollout spec update to be observed"
        )
    );
    let controller = Controller::start(&server);
    let mut argo = ArgoCd::new(&server, &controller, "rollout-canary");

    // Healthy once the first version's five pods are available; only restart is offered.
    let (first, _) = argo
        .until("healthy at first", |r, sets, h| {
            *h == healthy() && sets.get(&rs_name(r)) == Some(&(5, 5))
        })
        .await;
    assert_eq!(enabled(&first), ["restart"]);
    let blue = rs_name(&first);

    // Green: Progressing, then Suspended at the indefinite pause, where resume, abort,
    // pause, promote-full and skip-current-step are offered.
    let mark = argo.seen.len();
    argo.set_image("argoproj/rollouts-demo:green").await;
    let (paused, _) = argo
        .until("suspended at 20%", |r, sets, h| {
            *h == suspended("CanaryPauseStep")
                && r["status"]["currentStepIndex"] == 1
                && sets.get(&rs_name(r)) == Some(&(1, 1))
        })
        .await;
    assert!(
        argo.since(mark).iter().any(|h| h.status == "Progressing"),
        "{:?}",
        argo.since(mark)
    );
    assert_eq!(
        enabled(&paused),
        [
            "abort",
            "pause",
            "promote-full",
            "restart",
            "resume",
            "skip-current-step"
        ]
    );
    let green = rs_name(&paused);

    // pause: spec.paused; Suspended, "manually paused", and pause no longer offered.
    let patch = argo.action("pause").await;
    assert_eq!(patch, json!({"spec": {"paused": true}}));
    let (manual, _) = argo
        .until("manually paused", |r, _, h| {
            *h == suspended("manually paused")
                && r["status"]["observedGeneration"]
                    .as_str()
                    .and_then(|g| g.parse::<i64>().ok())
                    == r["metadata"]["generation"].as_i64()
        })
        .await;
    assert!(!enabled(&manual).contains(&"pause".to_owned()));

    // resume: the pause conditions cleared (status) and spec.paused false; the steps go on
    // (the timed pauses Suspended for their second, set weights Progressing) to Healthy on
    // green.
    let mark = argo.seen.len();
    let patch = argo.action("resume").await;
    assert_eq!(patch["status"]["pauseConditions"], Value::Null);
    assert!(patch["status"]
        .as_object()
        .unwrap()
        .contains_key("pauseConditions"));
    assert_eq!(patch["spec"], json!({"paused": false}));
    argo.until("past the pause", |r, _, _| {
        r["status"]["currentStepIndex"].as_i64() >= Some(2)
    })
    .await;
    let (done, _) = argo
        .until("healthy on green", |r, sets, h| {
            *h == healthy()
                && rs_name(r) == green
                && r["status"]["stableRS"] == r["status"]["currentPodHash"]
                && sets.get(&green) == Some(&(5, 5))
                && sets.get(&blue).map(|s| s.0) == Some(0)
        })
        .await;
    let walk = argo.since(mark);
    assert!(walk.iter().any(|h| h.status == "Progressing"), "{walk:?}");
    assert_eq!(done["status"]["currentStepIndex"], 8);
    assert_eq!(enabled(&done), ["restart"]);

    // Yellow, and promote-full at the pause: status.promoteFull; no further step or pause,
    // Healthy on yellow.
    argo.set_image("argoproj/rollouts-demo:yellow").await;
    let (paused, _) = argo
        .until("suspended on yellow", |r, sets, h| {
            *h == suspended("CanaryPauseStep") && sets.get(&rs_name(r)) == Some(&(1, 1))
        })
        .await;
    let yellow = rs_name(&paused);
    let patch = argo.action("promote-full").await;
    assert_eq!(patch, json!({"status": {"promoteFull": true}}));
    let mark = argo.seen.len();
    argo.until("healthy on yellow", |r, sets, h| {
        *h == healthy()
            && rs_name(r) == yellow
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
            && sets.get(&yellow) == Some(&(5, 5))
            && sets.get(&green).map(|s| s.0) == Some(0)
    })
    .await;
    // No pause after the promotion (the first reads may still be the paused status).
    let after: Vec<_> = argo.seen[mark..]
        .iter()
        .skip_while(|(h, _)| h.status == "Suspended")
        .collect();
    assert!(
        after.iter().all(|(h, _)| h.status != "Suspended"),
        "{after:?}"
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// skip-current-step, abort, retry and restart on the canary example: Degraded after the
/// abort, the update resumed by retry, every pod replaced by the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_health_through_skip_abort_retry_and_restart() {
    let server = server().await;
    server.apply_yaml(CANARY_SERVICES).unwrap();
    server.apply_yaml(&rollout_canary()).unwrap();
    let controller = Controller::start(&server);
    let mut argo = ArgoCd::new(&server, &controller, "rollout-canary");
    argo.until("healthy at first", |r, sets, h| {
        *h == healthy() && sets.get(&rs_name(r)) == Some(&(5, 5))
    })
    .await;

    // skip-current-step at the indefinite pause: step 2 (setWeight 40) next, two pods.
    argo.set_image("argoproj/rollouts-demo:green").await;
    let (paused, _) = argo
        .until("suspended at 20%", |r, sets, h| {
            *h == suspended("CanaryPauseStep") && sets.get(&rs_name(r)) == Some(&(1, 1))
        })
        .await;
    let green = rs_name(&paused);
    let patch = argo.action("skip-current-step").await;
    assert_eq!(
        patch,
        json!({"status": {"currentStepIndex": 2, "pauseConditions": null}})
    );
    argo.until("at 40%", |r, sets, _| {
        r["status"]["currentStepIndex"].as_i64() >= Some(2)
            && sets.get(&green).map(|s| s.0) >= Some(2)
    })
    .await;
    argo.until("healthy on green", |r, sets, h| {
        *h == healthy() && sets.get(&green) == Some(&(5, 5)) && rs_name(r) == green
    })
    .await;

    // Yellow, abort at the pause: Degraded, back on green's five pods; retry and
    // promote-full offered, abort and pause not.
    argo.set_image("argoproj/rollouts-demo:yellow").await;
    let (paused, _) = argo
        .until("suspended on yellow", |r, sets, h| {
            *h == suspended("CanaryPauseStep") && sets.get(&rs_name(r)) == Some(&(1, 1))
        })
        .await;
    let yellow = rs_name(&paused);
    let patch = argo.action("abort").await;
    assert_eq!(patch, json!({"status": {"abort": true}}));
    let (aborted, h) = argo
        .until("degraded", |r, sets, h| {
            is_aborted(h)
                && sets.get(&green) == Some(&(5, 5))
                && sets.get(&yellow).map(|s| s.0) == Some(0)
                && r["status"]["currentPodHash"] == paused["status"]["currentPodHash"]
        })
        .await;
    assert!(h.message.ends_with("revision 3"), "{h:?}");
    let offered = enabled(&aborted);
    assert!(offered.contains(&"retry".to_owned()), "{offered:?}");
    assert!(offered.contains(&"promote-full".to_owned()), "{offered:?}");
    assert!(!offered.contains(&"abort".to_owned()), "{offered:?}");
    assert!(!offered.contains(&"pause".to_owned()), "{offered:?}");

    // retry: status.abort removed; the update starts over, Suspended at the pause on yellow.
    let patch = argo.action("retry").await;
    assert_eq!(patch, json!({"status": {"abort": null}}));
    let (retried, _) = argo
        .until("suspended on yellow again", |r, sets, h| {
            *h == suspended("CanaryPauseStep")
                && rs_name(r) == yellow
                && sets.get(&yellow) == Some(&(1, 1))
        })
        .await;
    assert!(retried["status"]["abort"].is_null() || retried["status"]["abort"] == false);
    argo.action("resume").await;
    let (done, _) = argo
        .until("healthy on yellow", |r, sets, h| {
            *h == healthy() && rs_name(r) == yellow && sets.get(&yellow) == Some(&(5, 5))
        })
        .await;

    // restart: spec.restartAt (the clock's, whole seconds), and nothing else. Progressing
    // ("rollout is restarting") while the pods made before it are evicted and replaced, then
    // Healthy again with status.restartedAt recording it: Argo CD would otherwise show the
    // restart pending for ever.
    let before = rollout_pods(&server, "rollout-canary");
    assert_eq!(before.len(), 5, "{before:?}");
    // The action writes the clock's whole second, and a pod made in that second counts as
    // made after it (Argo compares whole seconds): act once the second is past them, and a
    // little later, as Lua's os.time() reads the coarse clock, which lags by up to a tick.
    let newest = before.iter().map(|(_, c)| c.clone()).max().unwrap();
    while now_rfc3339() <= newest {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mark = argo.seen.len();
    let patch = argo.action("restart").await;
    let at = patch["spec"]["restartAt"].as_str().unwrap().to_owned();
    assert!(is_rfc3339_utc(&at), "{patch}");
    assert!(at > newest, "{at} is not after the pods' {newest}");
    assert_eq!(patch.as_object().unwrap().len(), 1, "{patch}");
    let generation = done["metadata"]["generation"].as_i64().unwrap() + 1;
    let (restarted, _) = argo
        .until("restarted", |r, sets, h| {
            *h == healthy()
                && r["status"]["restartedAt"] == json!(at)
                && r["status"]["observedGeneration"].as_str() == Some(&generation.to_string())
                && sets.get(&yellow) == Some(&(5, 5))
        })
        .await;
    assert_eq!(restarted["spec"]["restartAt"], json!(at));
    assert!(
        argo.since(mark)
            .contains(&Health::new("Progressing", "rollout is restarting")),
        "{:?}",
        argo.since(mark)
    );
    let after = rollout_pods(&server, "rollout-canary");
    assert_eq!(after.len(), 5, "{after:?}");
    for (name, created) in &after {
        assert!(
            !before.iter().any(|(b, _)| b == name),
            "{name} was not restarted: before {before:?}, after {after:?}\nlog:\n{}",
            controller.logs()
        );
        assert!(
            created.as_str() >= at.as_str(),
            "{name} created {created}, before {at}"
        );
    }
    assert!(enabled(&restarted).contains(&"restart".to_owned()));
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// Argo's blue-green example (manual promotion): Suspended at the pause before promotion,
/// resume (promotion) and promote-full to Healthy, abort to Degraded, retry back to the
/// pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_health_through_resume_promote_full_abort_and_retry() {
    let server = server().await;
    server
        .apply_yaml(include_str!(
            "../config/tests/data/argo-examples/rollout-bluegreen.yaml"
        ))
        .unwrap();
    let controller = Controller::start(&server);
    let mut argo = ArgoCd::new(&server, &controller, "rollout-bluegreen");
    let (first, _) = argo
        .until("healthy at first", |r, sets, h| {
            *h == healthy() && sets.get(&rs_name(r)) == Some(&(2, 2))
        })
        .await;
    assert_eq!(enabled(&first), ["restart"]);

    // Green: Progressing while its pods come up, then Suspended before the promotion;
    // skip-current-step is for canaries only.
    let mark = argo.seen.len();
    argo.set_image("argoproj/rollouts-demo:green").await;
    let (paused, _) = argo
        .until("suspended before promotion", |r, sets, h| {
            *h == suspended("BlueGreenPause") && sets.get(&rs_name(r)) == Some(&(2, 2))
        })
        .await;
    assert!(
        argo.since(mark).iter().any(|h| h.status == "Progressing"),
        "{:?}",
        argo.since(mark)
    );
    assert_eq!(
        enabled(&paused),
        ["abort", "pause", "promote-full", "restart", "resume"]
    );
    let green = paused["status"]["currentPodHash"].clone();

    // resume promotes: the active Service switches, Healthy on green.
    argo.action("resume").await;
    argo.until("healthy on green", |r, _, h| {
        *h == healthy()
            && r["status"]["stableRS"] == green
            && r["status"]["blueGreen"]["activeSelector"] == green
    })
    .await;

    // promote-full at the pause: Healthy on yellow.
    argo.set_image("argoproj/rollouts-demo:yellow").await;
    let (paused, _) = argo
        .until("suspended on yellow", |r, sets, h| {
            *h == suspended("BlueGreenPause") && sets.get(&rs_name(r)) == Some(&(2, 2))
        })
        .await;
    let yellow = paused["status"]["currentPodHash"].clone();
    assert_eq!(
        argo.action("promote-full").await,
        json!({"status": {"promoteFull": true}})
    );
    argo.until("healthy on yellow", |r, _, h| {
        *h == healthy()
            && r["status"]["stableRS"] == yellow
            && r["status"]["blueGreen"]["activeSelector"] == yellow
    })
    .await;

    // Purple, abort at the pause: Degraded, the active Service still on yellow; retry: the
    // update again, Suspended before promoting purple.
    argo.set_image("argoproj/rollouts-demo:purple").await;
    let (paused, _) = argo
        .until("suspended on purple", |r, sets, h| {
            *h == suspended("BlueGreenPause") && sets.get(&rs_name(r)) == Some(&(2, 2))
        })
        .await;
    let purple = paused["status"]["currentPodHash"].clone();
    argo.action("abort").await;
    let (aborted, _) = argo
        .until("degraded", |r, _, h| {
            is_aborted(h) && r["status"]["blueGreen"]["activeSelector"] == yellow
        })
        .await;
    let offered = enabled(&aborted);
    assert!(offered.contains(&"retry".to_owned()), "{offered:?}");
    assert!(!offered.contains(&"abort".to_owned()), "{offered:?}");
    argo.action("retry").await;
    argo.until("suspended on purple again", |r, sets, h| {
        *h == suspended("BlueGreenPause")
            && r["status"]["currentPodHash"] == purple
            && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
