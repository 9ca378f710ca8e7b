//! template.yaml against the code: the template deploys every piece the code expects, and
//! nothing drifts (functions, environment, queues, IAM, routes, table, alarms).

use handoff::adapters::aws::config::Needs;
use handoff::adapters::aws::dynamodb::{INDEXES, INDEX_CHANGES, TTL_ATTRIBUTE};
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml at the project root");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// The function crates and what each reads and serves.
fn functions() -> Vec<(&'static str, Needs, Vec<&'static str>, bool)> {
    vec![
        ("settings-api", settings_api::lambda::NEEDS, settings_api::ROUTES.to_vec(), false),
        ("escalation-trigger", escalation_trigger::lambda::NEEDS, escalation_trigger::ROUTES.to_vec(), true),
        ("stall-notifier", stall_notifier::lambda::NEEDS, vec![], true),
        ("voice-timeout", voice_timeout::lambda::NEEDS, vec![], true),
        ("inbox-api", inbox_api::lambda::NEEDS, inbox_api::ROUTES.to_vec(), false),
    ]
}

/// `!Ref X`, `!GetAtt X.Attr` (or their long forms): the resource they name.
fn target(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" || t.tag == "GetAtt" => {
            t.value.as_str().map(|s| s.split('.').next().unwrap().to_string())
        }
        Value::Mapping(m) => m
            .get("Ref")
            .or_else(|| m.get("Fn::GetAtt"))
            .and_then(|x| x.as_str().map(str::to_owned).or_else(|| x.get(0).and_then(Value::as_str).map(str::to_owned)))
            .map(|s| s.split('.').next().unwrap().to_string()),
        _ => None,
    }
}

fn resources(t: &Value) -> BTreeMap<String, Value> {
    t["Resources"].as_mapping().unwrap().iter().map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone())).collect()
}

fn of_type(t: &Value, kind: &str) -> BTreeMap<String, Value> {
    resources(t).into_iter().filter(|(_, r)| r["Type"] == kind).collect()
}

fn function_resources(t: &Value) -> BTreeMap<String, (String, Value)> {
    of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(name, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().expect("each function names its binary");
            (binary.to_string(), (name, r))
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(seq) => seq.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

#[test]
fn every_function_crate_has_a_resource_and_every_resource_a_crate() {
    let t = template();
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let resources: BTreeSet<String> = function_resources(&t).keys().cloned().collect();
    assert_eq!(crates, resources);
    let listed: BTreeSet<String> = functions().iter().map(|f| f.0.to_string()).collect();
    assert_eq!(crates, listed, "this test knows every function");
    for name in &crates {
        let manifest = std::fs::read_to_string(root().join("functions").join(name).join("Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("[[bin]]\nname = \"{name}\"")), "{name} builds a binary named {name}");
    }
    let g = &t["Globals"]["Function"];
    assert_eq!(g["Runtime"], "provided.al2023");
    assert_eq!(strings(&g["Architectures"]), vec!["arm64"]);
    assert_eq!(g["Handler"], "bootstrap");
    assert_eq!(g["LoggingConfig"]["LogFormat"], "JSON");
    for (binary, (_, r)) in function_resources(&t) {
        assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{binary}");
        assert!(target(&r["Properties"]["Role"]).is_some(), "{binary} has its own role");
        assert!(r["Properties"].get("Policies").is_none(), "{binary}: permissions belong in its role");
        assert!(target(&r["Properties"]["LoggingConfig"]["LogGroup"]).is_some(), "{binary} logs to its own log group");
    }
}

#[test]
fn every_environment_variable_a_function_reads_is_set() {
    let t = template();
    let fns = function_resources(&t);
    for (binary, needs, _, _) in functions() {
        let (_, r) = &fns[binary];
        let vars: BTreeSet<String> = r["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        let mut wanted: BTreeSet<String> = needs.variables().into_iter().map(String::from).collect();
        if binary == "settings-api" {
            // The web app's sign-in configuration (config.js).
            wanted.extend(::handoff::web::SIGN_IN_VARIABLES.map(String::from));
        }
        assert_eq!(vars, wanted, "{binary}: the variables set must be exactly those it reads");
    }
}

#[test]
fn every_sqs_consumer_reports_batch_item_failures_and_has_a_dead_letter_queue() {
    let t = template();
    let res = resources(&t);
    let timeout = t["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    let mut consumers = BTreeSet::new();
    for (binary, (_, r)) in function_resources(&t) {
        let timeout = r["Properties"]["Timeout"].as_u64().unwrap_or(timeout);
        for (_, ev) in r["Properties"]["Events"].as_mapping().unwrap() {
            if ev["Type"] != "SQS" {
                continue;
            }
            consumers.insert(binary.clone());
            let p = &ev["Properties"];
            assert!(strings(&p["FunctionResponseTypes"]).contains(&"ReportBatchItemFailures".to_string()), "{binary}");
            let queue = target(&p["Queue"]).expect("queue reference");
            let q = &res[&queue]["Properties"];
            let dlq =
                target(&q["RedrivePolicy"]["deadLetterTargetArn"]).unwrap_or_else(|| panic!("{queue} has no DLQ"));
            assert_eq!(res[&dlq]["Type"], "AWS::SQS::Queue");
            let visibility = q["VisibilityTimeout"].as_u64().unwrap_or(30);
            assert!(visibility >= 6 * timeout, "{queue}: visibility {visibility}s < 6 x {timeout}s");
        }
    }
    let expected: BTreeSet<String> = functions().iter().filter(|f| f.3).map(|f| f.0.to_string()).collect();
    assert_eq!(consumers, expected);
    // Every queue has a dead-letter queue, and every dead-letter queue an alarm on its depth.
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let queues = of_type(&t, "AWS::SQS::Queue");
    let dlqs: BTreeSet<String> =
        queues.values().filter_map(|q| target(&q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])).collect();
    assert_eq!(dlqs.len() * 2, queues.len(), "every queue has its own dead-letter queue");
    for dlq in &dlqs {
        assert!(
            alarms.values().any(|a| a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && target(&a["Properties"]["Dimensions"][0]["Value"]).as_deref() == Some(dlq.as_str())),
            "no alarm on {dlq}"
        );
    }
    for (_, (name, _)) in function_resources(&t) {
        assert!(
            alarms.values().any(|a| a["Properties"]["MetricName"] == "Errors"
                && target(&a["Properties"]["Dimensions"][0]["Value"]).as_deref() == Some(name.as_str())),
            "no error alarm on {name}"
        );
    }
}

#[test]
fn the_outbound_queue_keeps_each_conversations_order() {
    let t = template();
    let res = resources(&t);
    let q = &res["OutboundQueue"]["Properties"];
    // FIFO, deduplicated by the id the publisher sends (the event_id), per conversation group.
    assert_eq!(q["FifoQueue"], true);
    assert_eq!(q["ContentBasedDeduplication"], false);
    assert_eq!(q["DeduplicationScope"], "messageGroup");
    assert_eq!(q["FifoThroughputLimit"], "perMessageGroupId");
    // A FIFO queue's dead-letter queue must be FIFO too.
    let dlq = target(&q["RedrivePolicy"]["deadLetterTargetArn"]).unwrap();
    assert_eq!(res[&dlq]["Properties"]["FifoQueue"], true);
    // The timer queues stay standard: FIFO queues have no per-message delay.
    for timer_queue in ["StallTimerQueue", "RingTimerQueue"] {
        assert!(res[timer_queue]["Properties"]["FifoQueue"].is_null(), "{timer_queue} must stay standard");
    }
    // Every function that publishes is given this queue.
    for (_, (_, f)) in function_resources(&t) {
        if let Some(url) = f["Properties"]["Environment"]["Variables"].get("OUTBOUND_QUEUE_URL") {
            assert_eq!(target(url).as_deref(), Some("OutboundQueue"));
        }
    }
}

#[test]
fn no_wildcard_in_iam() {
    let t = template();
    let roles = of_type(&t, "AWS::IAM::Role");
    assert_eq!(roles.len(), 6, "five function roles and the scheduler's");
    for (name, role) in roles {
        assert!(role["Properties"].get("ManagedPolicyArns").is_none(), "{name}: no managed policies");
        for policy in role["Properties"]["Policies"].as_sequence().unwrap() {
            for st in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
                for action in strings(&st["Action"]) {
                    assert!(!action.contains('*'), "{name}: wildcard action {action}");
                }
                let resources = match &st["Resource"] {
                    Value::Sequence(s) => s.clone(),
                    other => vec![other.clone()],
                };
                for r in resources {
                    assert!(r.as_str() != Some("*"), "{name}: Resource '*'");
                }
            }
        }
    }
}

#[test]
fn every_route_of_the_api_is_in_the_template() {
    let t = template();
    let fns = function_resources(&t);
    let mut all = BTreeSet::new();
    for (binary, _, routes, _) in functions() {
        let (_, r) = &fns[binary];
        let mut declared = BTreeSet::new();
        for (_, ev) in r["Properties"]["Events"].as_mapping().unwrap() {
            if ev["Type"] == "HttpApi" {
                let p = &ev["Properties"];
                assert_eq!(target(&p["ApiId"]).as_deref(), Some("HttpApi"));
                let key = format!("{} {}", p["Method"].as_str().unwrap(), p["Path"].as_str().unwrap());
                // Only the web app's files are open; every API route has the JWT authorizer.
                let open = p["Auth"]["Authorizer"] == "NONE";
                assert_eq!(open, settings_api::WEB_ROUTES.contains(&key.as_str()), "{key}");
                if !open {
                    declared.insert(key);
                }
            }
        }
        let served: BTreeSet<String> = routes.iter().map(|s| s.to_string()).collect();
        assert_eq!(declared, served, "{binary}");
        all.extend(served);
    }
    let local: BTreeSet<String> = handoff_local::http::api_routes().into_iter().map(String::from).collect();
    assert_eq!(all, local, "the local stack serves the same routes");
    let auth = &resources(&t)["HttpApi"]["Properties"]["Auth"];
    assert_eq!(auth["DefaultAuthorizer"], "JwtAuthorizer");
    assert_eq!(auth["Authorizers"]["JwtAuthorizer"]["IdentitySource"], "$request.header.Authorization");
}

#[test]
fn the_table_matches_the_key_design() {
    let t = template();
    let table = &resources(&t)["HandoffTable"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], TTL_ATTRIBUTE);
    let gsis: BTreeMap<String, (String, String)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| {
            let k = g["KeySchema"].as_sequence().unwrap();
            (
                g["IndexName"].as_str().unwrap().to_string(),
                (
                    k[0]["AttributeName"].as_str().unwrap().to_string(),
                    k[1]["AttributeName"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<String, (String, String)> =
        INDEXES.into_iter().map(|(n, i)| (n.to_string(), (format!("gsi{i}pk"), format!("gsi{i}sk")))).collect();
    assert_eq!(gsis, expected);
    for g in table["GlobalSecondaryIndexes"].as_sequence().unwrap() {
        let keys_only = g["IndexName"] == INDEX_CHANGES;
        assert_eq!(g["Projection"]["ProjectionType"], if keys_only { "KEYS_ONLY" } else { "ALL" });
    }
    let outputs: BTreeSet<String> =
        t["Outputs"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_string()).collect();
    for o in
        ["ApiUrl", "TableName", "EscalationQueueUrl", "OutboundQueueUrl", "StallTimerQueueUrl", "RingTimerQueueUrl"]
    {
        assert!(outputs.contains(o), "output {o}");
    }
}

/// Every metric the dashboard draws is one the functions write (a change's EMF line, or the
/// sweep's).
#[test]
fn the_dashboard_draws_the_metrics_the_functions_write() {
    use ::handoff::adapters::aws::emf::emf_line;
    use ::handoff::adapters::aws::lambda::STUCK_EFFECTS_METRIC;
    use ::handoff::domain::metrics::{
        escalation_counter, final_state_counter, Timing, ABANDONED_BEFORE_ACCEPT, QUEUED_OR_RINGING, RETURNED_BY_AGENT,
        RING_TIMEOUTS, STALL_NOTICES,
    };
    use ::handoff::domain::{Channel, EscalationOutcome, MetricsDelta, Reason, State, WorkspaceId};
    let t = template();
    let body = match &resources(&t)["HandoffDashboard"]["Properties"]["DashboardBody"] {
        Value::Tagged(sub) if sub.tag == "Sub" => sub.value.as_str().expect("a dashboard body").to_string(),
        other => panic!("the dashboard body is !Sub text, not {other:?}"),
    };
    let body: serde_json::Value = serde_json::from_str(&body.replace("${AWS::Region}", "eu-west-1")).unwrap();
    // Every counter a change can add, as the EMF line names it.
    let mut d = MetricsDelta::new(chrono::Utc::now(), Reason::Other, Channel::Chat, None);
    for o in [
        EscalationOutcome::Queued,
        EscalationOutcome::Ringing,
        EscalationOutcome::RoutedToAi,
        EscalationOutcome::AfterHours,
        EscalationOutcome::Disabled,
        EscalationOutcome::AlreadyActive,
    ] {
        d.add(escalation_counter(o));
    }
    for st in State::all().filter(|s| !s.is_active()) {
        d.add(final_state_counter(st));
    }
    for c in [QUEUED_OR_RINGING, ABANDONED_BEFORE_ACCEPT, STALL_NOTICES, RING_TIMEOUTS, RETURNED_BY_AGENT] {
        d.add(c);
    }
    d.observe(Timing::ToAccept, 5);
    d.observe(Timing::ToResolve, 50);
    let line = emf_line("f", &WorkspaceId::parse("ws").unwrap(), &d, 0).unwrap();
    let mut written: BTreeSet<String> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    written.insert(STUCK_EFFECTS_METRIC.to_string());
    let mut drawn = 0;
    for w in body["widgets"].as_array().unwrap() {
        for m in w["properties"]["metrics"].as_array().unwrap() {
            assert_eq!(m[0], "HumanHandoff");
            let name = m[1].as_str().unwrap();
            assert!(written.contains(name), "the dashboard draws {name}, which nothing writes");
            drawn += 1;
        }
    }
    assert!(drawn >= 20, "{drawn}");
}

#[test]
fn the_stuck_effects_alarm_watches_the_metric_the_sweep_writes() {
    use handoff::adapters::aws::lambda::{emf_line, METRICS_NAMESPACE, STUCK_EFFECTS_METRIC};
    let t = template();
    let alarm = &resources(&t)["StuckEffectsAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], METRICS_NAMESPACE);
    assert_eq!(alarm["MetricName"], STUCK_EFFECTS_METRIC);
    // The log line the sweep prints is embedded metric format naming that metric.
    let line = emf_line(&[(STUCK_EFFECTS_METRIC, 2.0)], 0);
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], METRICS_NAMESPACE);
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], STUCK_EFFECTS_METRIC);
    assert_eq!(line[STUCK_EFFECTS_METRIC], 2.0);
}

/// The web app's routes in AWS serve its files, without a token, and its configuration names the
/// identity provider the template passes.
#[test]
fn the_web_app_is_served_at_the_root_of_the_api() {
    for key in settings_api::WEB_ROUTES {
        let r = settings_api::web_file(key).unwrap_or_else(|| panic!("{key}"));
        assert_eq!(r.status, 200);
        assert!(!r.text.unwrap().is_empty());
    }
    let t = template();
    let vars = &resources(&t)["SettingsApiFunction"]["Properties"]["Environment"]["Variables"];
    for (var, param) in [
        ("HANDOFF_OIDC_ISSUER", "JwtIssuer"),
        ("HANDOFF_OIDC_CLIENT_ID", "WebClientId"),
        ("HANDOFF_OIDC_SCOPE", "WebScope"),
    ] {
        assert_eq!(target(&vars[var]).as_deref(), Some(param), "{var}");
    }
}

/// Every function that commits a handoff change may do all a commit does on the table: its
/// transaction puts, updates and deletes items and checks the handoff's sent item
/// (`ConditionCheckItem`), and a conflict or the workspace's layout is read with a `Query`.
/// (Neither moto nor the local stack enforces IAM, so this is where a missing action shows.)
#[test]
fn every_function_that_commits_may_do_what_a_commit_does() {
    let t = template();
    let roles = of_type(&t, "AWS::IAM::Role");
    for function in ["escalation-trigger", "stall-notifier", "voice-timeout", "inbox-api"] {
        let mut on_table: Vec<String> = Vec::new();
        for role in roles.values() {
            for policy in role["Properties"]["Policies"].as_sequence().unwrap() {
                if policy["PolicyName"].as_str() != Some(function) {
                    continue;
                }
                for st in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
                    let resources = match &st["Resource"] {
                        Value::Sequence(s) => s.clone(),
                        other => vec![other.clone()],
                    };
                    if resources.iter().any(|r| target(r).as_deref() == Some("HandoffTable")) {
                        on_table.extend(strings(&st["Action"]));
                    }
                }
            }
        }
        for needed in [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:Query",
        ] {
            assert!(on_table.iter().any(|a| a == needed), "{function} may not {needed} on the table: {on_table:?}");
        }
    }
}
