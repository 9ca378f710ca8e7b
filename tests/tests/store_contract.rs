//! One store contract, run against every store adapter: the embedded SQLite store (on disk and in
//! memory) and DynamoDB on the emulator.

use handoff::adapters::aws::dynamodb::DynamoStore;
use handoff::adapters::aws::provision::create_table;
use handoff::adapters::embedded::{EmbeddedDb, EmbeddedStore};
use handoff_tests::aws::emulator;
use handoff_tests::contract;

async fn dynamodb() -> DynamoStore {
    let sdk = emulator().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("contract-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("table created");
    DynamoStore::new(client, table)
}

fn sqlite_in_memory() -> EmbeddedStore {
    EmbeddedStore::new(EmbeddedDb::in_memory().unwrap())
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test] async fn $case() { super::contract::$case(&super::sqlite_in_memory()).await; })*
        }
        mod embedded_on_disk {
            $(#[tokio::test] async fn $case() {
                let dir = tempfile::tempdir().unwrap();
                let store = handoff::adapters::embedded::EmbeddedStore::new(
                    handoff::adapters::embedded::EmbeddedDb::open(&dir.path().join("db.sqlite3")).unwrap());
                super::contract::$case(&store).await;
            })*
        }
        mod dynamodb {
            $(#[tokio::test] async fn $case() { super::contract::$case(&super::dynamodb().await).await; })*
        }
    };
}

contract!(
    settings_writes_are_conditional,
    escalations_are_recorded_once_and_atomically,
    one_active_handoff_per_conversation,
    expired_escalation_records_can_be_replaced,
    escalations_check_the_settings_version,
    transitions_are_conditional_on_the_version_read,
    a_recorded_decision_is_never_reset,
    sent_seq_follows_the_outbox_and_guards_commits,
    the_transcript_is_kept_in_order_and_paged,
    a_long_transcript_reads_like_a_short_one,
    history_is_read_in_bounded_pages,
    effects_stay_pending_until_dispatched,
    the_inbox_filters_orders_and_pages,
    teams_writes_are_conditional_and_keep_every_member,
    escalations_check_the_teams_version,
    the_team_filter_reads_only_those_teams,
    figures_add_up_per_day_and_grouping,
    changes_come_in_the_order_they_happened,
);
