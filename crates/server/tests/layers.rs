//! The workspace's layers, checked from `cargo metadata`: every crate depends only on crates
//! of lower layers, no crate below HTTP pulls in axum, and the pure crates no I/O at all.
//! A new crate is placed by its folder (an integration's `sync` and `http` crates, a sync
//! core), so adding an integration needs no change here. See ARCHITECTURE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The layers, lowest first. A crate may depend (normal and build dependencies) only on
/// crates of a lower layer; dev-dependencies may also name the test support crates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// No I/O: the domain logic shared with the extension and the server (one rule, one
    /// place: text, addresses, ids).
    Domain,
    /// No I/O: the sync cores, over the domain's rules.
    Pure,
    Storage,
    Crm,
    Connections,
    SyncEngine,
    /// What several integrations share above the engine (the file-sync executor of Drive
    /// and Dropbox): integrations may not depend on each other, so it is not in either.
    SharedSync,
    Integration,
    Http,
    IntegrationRoutes,
    /// The web app: the HTTP layer's second face (pages over the same model as the API).
    Web,
    Binary,
    /// Not part of the server: the extension's WASM core (over the pure crates), the fake
    /// providers and the benchmarks. Nothing of the server may depend on them (but tests).
    Outside,
}

const TEST_SUPPORT: &[&str] = &["threadline-fake-providers"];

/// Crates below HTTP must not have these in their dependencies, however deep.
const HTTP_ONLY: &[&str] = &["axum", "axum-core", "utoipa-axum"];
/// Pure crates must not have these (no database, no network, no runtime).
const IO: &[&str] = &["tokio", "sqlx", "reqwest", "hyper", "axum"];

/// The layer of a workspace crate, from its name and its folder (relative to the root).
fn layer_of(name: &str, dir: &str) -> Option<Layer> {
    let dir = dir.trim_end_matches('/');
    let fixed = match name {
        "threadline-domain" => Some(Layer::Domain),
        "threadline-storage" => Some(Layer::Storage),
        "threadline-crm" => Some(Layer::Crm),
        "threadline-connections" => Some(Layer::Connections),
        "threadline-sync-engine" => Some(Layer::SyncEngine),
        "threadline-http" => Some(Layer::Http),
        "threadline-web" => Some(Layer::Web),
        "threadline-server" => Some(Layer::Binary),
        "threadline-extension" | "threadline-fake-providers" | "threadline-bench" => {
            Some(Layer::Outside)
        }
        _ => None,
    };
    fixed.or_else(|| {
        let parts: Vec<&str> = dir.split('/').collect();
        match parts.as_slice() {
            ["crates", "integrations", _, "sync"] => Some(Layer::Integration),
            ["crates", "integrations", _, "http"] => Some(Layer::IntegrationRoutes),
            ["crates", "sync", core] if core.ends_with("-core") => Some(Layer::Pure),
            ["crates", "sync", _] => Some(Layer::SharedSync),
            _ => None,
        }
    })
}

/// A workspace crate and what it declares.
struct Member {
    name: String,
    dir: String,
    /// (dependency name, kind: "normal", "build" or "dev").
    deps: Vec<(String, String)>,
}

/// Every break of the rules in `members` (workspace crates) and `closure` (each crate's
/// normal and build dependencies, however deep, by name).
fn violations(members: &[Member], closure: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    let layers: BTreeMap<&str, Layer> = members
        .iter()
        .filter_map(|m| layer_of(&m.name, &m.dir).map(|l| (m.name.as_str(), l)))
        .collect();
    for m in members {
        let Some(&own) = layers.get(m.name.as_str()) else {
            found.push(format!(
                "{} ({}) has no layer: place it in tests/layers.rs or in a layer's folder",
                m.name, m.dir
            ));
            continue;
        };
        for (dep, kind) in &m.deps {
            let Some(&theirs) = layers.get(dep.as_str()) else {
                continue; // not a workspace crate
            };
            let test_support = kind == "dev" && TEST_SUPPORT.contains(&dep.as_str());
            let allowed = if own == Layer::Outside {
                // The tools and the extension sit on top; they may use the layers.
                m.name != "threadline-extension" || theirs <= Layer::Pure
            } else if kind == "dev" {
                test_support || theirs <= own
            } else {
                theirs < own
            };
            if !allowed {
                found.push(format!(
                    "{} ({own:?}) depends on {dep} ({theirs:?}) [{kind}]: a layer may only \
                     depend on the layers below it",
                    m.name
                ));
            }
        }
        let deep = closure.get(&m.name).cloned().unwrap_or_default();
        if own < Layer::Http {
            for banned in HTTP_ONLY.iter().filter(|b| deep.contains(**b)) {
                found.push(format!(
                    "{} ({own:?}) depends on {banned}: only the HTTP layer knows HTTP",
                    m.name
                ));
            }
        }
        if own <= Layer::Pure {
            for banned in IO.iter().filter(|b| deep.contains(**b)) {
                found.push(format!(
                    "{} ({own:?}) depends on {banned}: pure crates do no I/O",
                    m.name
                ));
            }
        }
    }
    found
}

fn metadata() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON")
}

/// The workspace's members and the normal/build closure of each, from `cargo metadata`.
fn workspace() -> (Vec<Member>, BTreeMap<String, BTreeSet<String>>) {
    let meta = metadata();
    let root = meta["workspace_root"].as_str().unwrap().to_string();
    let ids: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let mut members = Vec::new();
    for id in &ids {
        let p = packages[id];
        let manifest = p["manifest_path"].as_str().unwrap();
        let dir = Path::new(manifest)
            .parent()
            .unwrap()
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let deps = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_string(),
                    d["kind"].as_str().unwrap_or("normal").to_string(),
                )
            })
            .collect();
        members.push(Member {
            name: p["name"].as_str().unwrap().to_string(),
            dir,
            deps,
        });
    }
    // Normal and build edges of the resolved graph, then each member's closure.
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let from = node["id"].as_str().unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let runtime = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if runtime {
                edges
                    .entry(from)
                    .or_default()
                    .push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    let mut closure = BTreeMap::new();
    for id in &ids {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack = vec![*id];
        while let Some(at) = stack.pop() {
            for next in edges.get(at).into_iter().flatten() {
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        let names = seen
            .iter()
            .map(|id| packages[id]["name"].as_str().unwrap().to_string())
            .collect();
        closure.insert(packages[id]["name"].as_str().unwrap().to_string(), names);
    }
    (members, closure)
}

#[test]
fn every_crate_depends_only_on_lower_layers() {
    let (members, closure) = workspace();
    // The layering is real: the server sees every layer.
    let server = &closure["threadline-server"];
    for lower in [
        "threadline-storage",
        "threadline-crm",
        "threadline-connections",
        "threadline-sync-engine",
        "threadline-http",
    ] {
        assert!(server.contains(lower), "the server depends on {lower}");
    }
    let found = violations(&members, &closure);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

/// The checker itself: each kind of break is found.
#[test]
fn the_checker_finds_each_kind_of_break() {
    let member = |name: &str, dir: &str, deps: &[(&str, &str)]| Member {
        name: name.into(),
        dir: dir.into(),
        deps: deps
            .iter()
            .map(|(d, k)| (d.to_string(), k.to_string()))
            .collect(),
    };
    let fine = vec![
        member("threadline-storage", "crates/storage", &[]),
        member(
            "threadline-crm",
            "crates/crm",
            &[("threadline-storage", "normal")],
        ),
        member(
            "threadline-dropbox",
            "crates/integrations/dropbox/sync",
            &[
                ("threadline-crm", "normal"),
                ("threadline-fake-providers", "dev"),
            ],
        ),
        member("threadline-fake-providers", "crates/fake-providers", &[]),
    ];
    let none = BTreeMap::new();
    assert_eq!(violations(&fine, &none), Vec::<String>::new());

    // An upward edge.
    let mut upward = fine;
    upward[0]
        .deps
        .push(("threadline-crm".into(), "normal".into()));
    let found = violations(&upward, &none);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("threadline-storage (Storage) depends on threadline-crm"));

    // Two integrations may not depend on each other (same layer).
    let sideways = vec![
        member("threadline-a", "crates/integrations/a/sync", &[]),
        member(
            "threadline-b",
            "crates/integrations/b/sync",
            &[("threadline-a", "normal")],
        ),
    ];
    assert_eq!(violations(&sideways, &none).len(), 1);

    // A sync core over the domain's rules, not the other way round.
    let cores = vec![
        member("threadline-domain", "crates/domain", &[]),
        member(
            "threadline-files-core",
            "crates/sync/files-core",
            &[("threadline-domain", "normal")],
        ),
    ];
    assert_eq!(violations(&cores, &none), Vec::<String>::new());
    let mut inverted = cores;
    inverted[1].deps.clear();
    inverted[0]
        .deps
        .push(("threadline-files-core".into(), "normal".into()));
    assert_eq!(violations(&inverted, &none).len(), 1);

    // axum below HTTP, I/O in a pure crate, an unplaced crate.
    let deep = BTreeMap::from([
        (
            "threadline-crm".to_string(),
            BTreeSet::from(["axum".to_string()]),
        ),
        (
            "threadline-files-core".to_string(),
            BTreeSet::from(["tokio".to_string()]),
        ),
    ]);
    let found = violations(
        &[
            member("threadline-crm", "crates/crm", &[]),
            member("threadline-files-core", "crates/sync/files-core", &[]),
            member("threadline-misc", "crates/misc", &[]),
        ],
        &deep,
    );
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("only the HTTP layer knows HTTP"));
    assert!(found[1].contains("pure crates do no I/O"));
    assert!(found[2].contains("has no layer"));
}
