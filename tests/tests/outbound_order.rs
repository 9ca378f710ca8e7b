//! Outbound events in order per conversation (spec §8), on the emulator's FIFO outbound queue:
//! every event carries its `seq`, a conversation's events arrive in that order, a re-send within
//! the deduplication window arrives once, and an event held back by a failed send delays the later
//! events of its own conversation only.

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use handoff::domain::{
    Actor, Channel, ConversationId, Effect, EscalationRequest, EventId, OutboundEvent, Reason, WorkspaceId,
};
use handoff::ports::{InboxQuery, PublishError, Publisher, StatusFilter};
use handoff_tests::aws::{apigw, configure, escalate_sqs, fixture, http, Api, Env};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Every message on the outbound queue, with its FIFO group and deduplication id (drains it).
async fn delivered(env: &Env) -> Vec<(Value, String, String)> {
    let mut all = Vec::new();
    loop {
        let out = env
            .sqs
            .receive_message()
            .queue_url(&env.res.outbound_queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return all;
        }
        for m in messages {
            let attrs = m.attributes.clone().unwrap_or_default();
            let attr = |k: MessageSystemAttributeName| attrs.get(&k).cloned().unwrap_or_default();
            all.push((
                serde_json::from_str(m.body().unwrap_or_default()).expect("outbound events are JSON"),
                attr(MessageSystemAttributeName::MessageGroupId),
                attr(MessageSystemAttributeName::MessageDeduplicationId),
            ));
            env.sqs
                .delete_message()
                .queue_url(&env.res.outbound_queue.url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
}

fn seq_and_type(events: &[(Value, String, String)], conversation: &str) -> Vec<(u64, String)> {
    events
        .iter()
        .filter(|(e, _, _)| e["conversation_id"] == conversation)
        .map(|(e, _, _)| (e["seq"].as_u64().expect("every event has a seq"), e["type"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handoffs_events_are_numbered_and_arrive_in_that_order() {
    let env = Env::new().await;
    assert!(env.res.outbound_queue.url.ends_with(".fifo"), "the outbound queue is FIFO");
    configure(&env, json!({"routing": "human"})).await;
    assert!(escalate_sqs(&env, fixture("sqs-escalation.json")).await.is_empty());
    let (_, page) = http(&env, Api::Inbox, fixture("apigw-get-inbox.json")).await;
    let id = page["items"][0]["handoff_id"].as_str().unwrap().to_string();
    for (route, user) in [
        ("apigw-post-accept.json", "user-agent-1"),
        ("apigw-post-assign.json", "user-agent-1"),
        ("apigw-post-return-to-ai.json", "user-agent-2"),
    ] {
        let (status, body) = http(&env, Api::Inbox, apigw(route, Some(&id), "agent", user)).await;
        assert_eq!(status, 200, "{route}: {body}");
    }
    let got = delivered(&env).await;
    assert_eq!(
        seq_and_type(&got, "conv_fixture_chat"),
        vec![(1, "customer_message".into()), (2, "agent_joined".into()), (3, "return_to_ai".into())],
        "numbered 1, 2, 3 and delivered in that order (assigning a teammate sends nothing)"
    );
    for (e, group, dedup) in &got {
        assert_eq!(group, "ws_fixture/conv_fixture_chat", "the conversation is the message group");
        assert_eq!(dedup, e["event_id"].as_str().unwrap(), "the event id is the deduplication id");
        assert_eq!(e["handoff_id"], id.as_str());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_event_sent_twice_within_the_window_arrives_once() {
    let env = Env::new().await;
    configure(&env, json!({"routing": "human"})).await;
    assert!(escalate_sqs(&env, fixture("sqs-escalation.json")).await.is_empty());
    let confirmation: OutboundEvent = {
        let h =
            &env.app.store.list_inbox(&WorkspaceId::parse("ws_fixture").unwrap(), &active()).await.unwrap().items[0];
        let v = env.app.store.get_handoff_view(&h.workspace_id, &h.handoff_id, 0, 1).await.unwrap().unwrap();
        match &v.decisions[0].effects[0] {
            Effect::Outbound(e) => e.clone(),
            other => panic!("expected the confirmation first: {other:?}"),
        }
    };
    // Re-sends before the consumer got to it (the emulator, unlike SQS, forgets a deduplication
    // id once its message is deleted; SQS keeps it for five minutes): alone, and in a batch.
    env.app.publisher.publish(std::slice::from_ref(&confirmation)).await.unwrap();
    let mut other = confirmation.clone();
    other.event_id = format!("{}-other", confirmation.event_id);
    other.seq = confirmation.seq + 1;
    env.app.publisher.publish(&[confirmation.clone(), other.clone()]).await.unwrap();
    let got = delivered(&env).await;
    let ids: Vec<&str> = got.iter().map(|(e, _, _)| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![confirmation.event_id.as_str(), other.event_id.as_str()], "each event once, in order");
}

fn active() -> InboxQuery {
    InboxQuery {
        teams: None,
        status: StatusFilter::Active,
        assignee: None,
        channel: None,
        reason: None,
        limit: 10,
        after: None,
    }
}

/// Fails every send for the conversations in `down`; passes the others to the real queue.
struct FailingFor {
    inner: Arc<dyn Publisher>,
    down: Mutex<BTreeSet<String>>,
}

#[async_trait]
impl Publisher for FailingFor {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        let down = self.down.lock().unwrap().clone();
        if let Some(e) = events.iter().find(|e| down.contains(e.conversation_id.as_str())) {
            return Err(PublishError { event_id: e.event_id.clone(), reason: "injected failure".into() });
        }
        self.inner.publish(events).await
    }
}

fn escalation(event: &str, conversation: &str) -> EscalationRequest {
    EscalationRequest::new(
        EventId::parse(event).unwrap(),
        WorkspaceId::parse("ws_fixture").unwrap(),
        ConversationId::parse(conversation).unwrap(),
        Channel::Chat,
        Reason::Other,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_back_event_delays_its_own_conversation_and_no_other() {
    let env = Env::new().await;
    configure(&env, json!({"routing": "human"})).await;
    let publisher = Arc::new(FailingFor { inner: env.app.publisher.clone(), down: Mutex::default() });
    let app = env.app.clone().with_publisher(publisher.clone());
    let ws = WorkspaceId::parse("ws_fixture").unwrap();
    let agent = handoff::domain::UserId::parse("agent-1").unwrap();

    // Conversation A's confirmation cannot be sent; B's can.
    publisher.down.lock().unwrap().insert("conv-a".into());
    let a = app.escalate(&escalation("evt-a", "conv-a"), Actor::Ai).await.unwrap().handoff.unwrap();
    publisher.down.lock().unwrap().clear();
    let b = app.escalate(&escalation("evt-b", "conv-b"), Actor::Ai).await.unwrap().handoff.unwrap();
    // The queue is back. A's agent_joined must not overtake its confirmation; B goes on.
    app.apply(&ws, &a.handoff_id, handoff::domain::Command::Accept { by: agent.clone() }).await.unwrap();
    app.apply(&ws, &b.handoff_id, handoff::domain::Command::Accept { by: agent.clone() }).await.unwrap();
    let now = delivered(&env).await;
    assert_eq!(seq_and_type(&now, "conv-a"), vec![], "A waits for its first event");
    assert_eq!(seq_and_type(&now, "conv-b"), vec![(1, "customer_message".into()), (2, "agent_joined".into())]);
    let stored = app.get_handoff(&ws, &a.handoff_id).await.unwrap();
    assert_eq!((stored.seq, stored.sent_seq), (2, 0));

    // The sweep sends A's events oldest first; nothing of B again.
    let report = app.redispatch_pending(chrono::Utc::now() + chrono::Duration::seconds(1), 100).await.unwrap();
    assert_eq!(report.dispatched, 2, "{report:?}");
    let later = delivered(&env).await;
    assert_eq!(seq_and_type(&later, "conv-a"), vec![(1, "customer_message".into()), (2, "agent_joined".into())]);
    assert_eq!(seq_and_type(&later, "conv-b"), vec![]);
    assert_eq!(app.get_handoff(&ws, &a.handoff_id).await.unwrap().sent_seq, 2);
}
