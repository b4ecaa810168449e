//! The OpenAPI document against the routes. The other direction — a route the document
//! does not describe — answers 500 in debug builds (`openapi::require_documented`), so
//! every other test of the suite checks it for the routes it calls; and
//! `tests/openapi/schemathesis.sh` checks the answers against the document.

use std::collections::{BTreeSet, HashSet};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;

use crate::common::TestApp;

async fn document(app: &TestApp) -> Value {
    // No token: the document is public.
    let answer = app
        .call(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            out.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        out.insert(r.clone());
                    }
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_self_consistent() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Threadline API");

    let ops = operations(&doc);
    assert!(ops.len() >= 40, "only {} operations", ops.len());
    let mut ids = HashSet::new();
    for (method, path, op) in &ops {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} twice");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path}: no summary"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: no success answer"
        );
        for status in ["500", "503"] {
            assert!(
                responses.contains_key(status),
                "{method} {path}: no {status}"
            );
        }
        // The document, and the extension's sign-in (its one-time code is the credential).
        let public = path == "/api/v1/openapi.json" || path == "/api/v1/extension/token";
        assert_eq!(
            op["security"].is_null(),
            public,
            "{method} {path}: security"
        );
        if !public {
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
        }
        // Path templates and path parameters agree.
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(in_template, declared, "{method} {path}: path parameters");
    }

    // Links name their target by operationId (camel case, as OpenAPI spells it), and the
    // target exists and takes the parameters the link fills.
    let mut links = 0;
    for (method, path, op) in &ops {
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(map) = response["links"].as_object() else {
                continue;
            };
            for (name, link) in map {
                links += 1;
                let target = link["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} {status} {name}: {link}"));
                let (_, _, target_op) = ops
                    .iter()
                    .find(|(_, _, o)| o["operationId"] == target)
                    .unwrap_or_else(|| panic!("link to unknown operation {target}"));
                for param in link["parameters"].as_object().unwrap().keys() {
                    let (place, name) = param.split_once('.').unwrap();
                    assert!(
                        target_op["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["in"] == place && p["name"] == name),
                        "link {name} to {target}: no {param} parameter"
                    );
                }
            }
        }
    }
    assert!(links >= 30, "only {links} links");

    let mut all_refs = BTreeSet::new();
    refs(&doc, &mut all_refs);
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for r in &all_refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
}

/// Each documented operation reaches a handler: not the router's fallback (404 "no such
/// route") nor 405, with made-up ids.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    let made_up = uuid::Uuid::now_v7().to_string();
    for (method, path, op) in operations(&doc) {
        let uri = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    made_up.as_str()
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let content_type = op["requestBody"]["content"]
            .as_object()
            .and_then(|c| c.keys().next().cloned());
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", app.token));
        let body = match content_type.as_deref() {
            Some("application/json") => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from("{}")
            }
            Some(other) => {
                request = request.header(header::CONTENT_TYPE, other);
                Body::from("x")
            }
            None => Body::empty(),
        };
        let answer = app.call(request.body(body).unwrap()).await;
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(
            !answer.message().contains("no such route"),
            "{method} {path} is documented but not routed: {}",
            answer.body
        );
        assert_ne!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}: {}",
            answer.body
        );
        let documented = op["responses"].as_object().unwrap();
        assert!(
            documented.contains_key(answer.status.as_str()),
            "{method} {uri}: answered {} which is not documented ({:?}): {}",
            answer.status,
            documented.keys().collect::<Vec<_>>(),
            answer.body
        );
    }
}

/// The guard behind the suite's other direction: it knows every documented operation
/// (a route it did not know would have answered 500 in the test above).
#[test]
fn the_guard_lists_every_operation() {
    let (_, json) = threadline_server::api_and_document();
    let doc: utoipa::openapi::OpenApi = serde_json::from_str(&json).expect("document");
    let listed = threadline_server::openapi::operations(&doc);
    assert!(listed.contains(&("GET".to_string(), "/api/v1/me".to_string())));
    assert!(listed.contains(&(
        "PUT".to_string(),
        "/api/v1/contacts/{id}/documents/files".to_string()
    )));
    assert_eq!(
        listed.len(),
        operations(&serde_json::from_str(&json).unwrap()).len()
    );
}
