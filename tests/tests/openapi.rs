//! docs/openapi.yaml against the code: the same routes, and the same rules for the values.

use handoff::domain::{Channel, Message, Reason, RingTimeout, StallingTime, MAX_SUMMARY_CHARS};
use serde_norway::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn spec() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("docs/openapi.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

#[test]
fn the_document_lists_exactly_the_routes_the_code_serves() {
    let s = spec();
    let mut documented = BTreeSet::new();
    for (path, item) in s["paths"].as_mapping().unwrap() {
        let path = path.as_str().unwrap();
        for m in METHODS {
            if let Some(op) = item.get(m) {
                documented.insert(format!("{} {path}", m.to_uppercase()));
                for status in ["200", "401", "403"] {
                    assert!(op["responses"].get(status).is_some(), "{m} {path}: no {status} response");
                }
            }
        }
        // Every path parameter is declared.
        let declared: BTreeSet<String> = item["parameters"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| match p.get("$ref") {
                Some(r) => {
                    let name = r.as_str().unwrap().rsplit('/').next().unwrap();
                    s["components"]["parameters"][name]["name"].as_str().unwrap().to_string()
                }
                None => p["name"].as_str().unwrap().to_string(),
            })
            .collect();
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter(|seg| seg.starts_with('{'))
            .map(|seg| seg.trim_matches(['{', '}']).to_string())
            .collect();
        assert_eq!(declared, in_path, "{path}");
    }
    let served: BTreeSet<String> = handoff_local::http::api_routes().into_iter().map(String::from).collect();
    assert_eq!(documented, served);
    let bearer = &s["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!((bearer["type"].as_str(), bearer["scheme"].as_str()), (Some("http"), Some("bearer")));
    assert!(s["security"][0].get("bearerAuth").is_some());
}

#[test]
fn the_documented_rules_are_the_domain_rules() {
    let s = spec();
    let schemas = &s["components"]["schemas"];
    let update = &schemas["SettingsUpdate"]["properties"];
    assert_eq!(update["stalling_time_seconds"]["minimum"].as_u64(), Some(StallingTime::MIN as u64));
    assert_eq!(update["stalling_time_seconds"]["maximum"].as_u64(), Some(StallingTime::MAX as u64));
    assert_eq!(update["voice_ring_timeout_seconds"]["minimum"].as_u64(), Some(RingTimeout::MIN as u64));
    assert_eq!(update["voice_ring_timeout_seconds"]["maximum"].as_u64(), Some(RingTimeout::MAX as u64));
    // The message rule counts after trimming, so the pattern bounds the kept text (first and last
    // character, and up to MAX_CHARS - 2 between them).
    let message = schemas["Message"]["pattern"].as_str().unwrap();
    assert!(message.contains(&format!("{{0,{}}}", Message::MAX_CHARS - 2)), "{message}");
    assert_eq!(schemas["Escalation"]["properties"]["summary"]["maxLength"].as_u64(), Some(MAX_SUMMARY_CHARS as u64));
    let names = |v: &Value| -> Vec<String> {
        v["enum"].as_sequence().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&schemas["Reason"]), Reason::names());
    assert_eq!(names(&schemas["Channel"]), Channel::names());
    let limit = s["paths"]["/v1/workspaces/{workspace_id}/inbox"]["get"]["parameters"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"]
        .clone();
    assert_eq!(limit["maximum"].as_u64(), Some(inbox_api::MAX_LIMIT as u64));
    assert_eq!(limit["default"].as_u64(), Some(inbox_api::DEFAULT_LIMIT as u64));
}
