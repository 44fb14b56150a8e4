//! Stream mode's state: cursors from the installation on, per-record order, redelivery after 60 s by the
//! store's clock, redelivery at once when a connection is gone, single-use tickets.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use serde_json::{Value, json};
use tenon_model::apps::{ApiKey, CellValue, TableSchema, parse_cell};
use tenon_model::{Name, RecordId, Scope, ScopeSet, TimeZone};
use tenon_store::{
    ClientRegistration, NewApp, NewTable, RecordUpdate, Store, StreamClaim, WriteContext,
};

use crate::apps::spec;
use crate::{clock_tests, new_org};

const PARSE: tenon_model::apps::ParseContext = tenon_model::apps::ParseContext {
    org_time_zone: TimeZone::SHANGHAI,
};
const RECORD_TYPES: [&str; 3] = ["record.created", "record.updated", "record.deleted"];

async fn notes(store: &Store, org: tenon_model::OrgId) -> TableSchema {
    let tenant = store.tenant(org);
    let ctx = WriteContext::system();
    let app = tenant
        .create_app(
            &ctx,
            NewApp {
                name: Name::parse("Notes").unwrap(),
                key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    tenant
        .create_table(
            &ctx,
            &app,
            NewTable {
                name: Name::parse("Notes").unwrap(),
                key: Some(ApiKey::parse("notes").unwrap()),
                fields: vec![spec("Title", "title", "text", json!({}))],
                primary_field: None,
                unique_together: vec![],
                indexes: vec![],
                validation_rules: vec![],
            },
            &PARSE,
        )
        .await
        .unwrap()
}

async fn create(
    store: &Store,
    org: tenon_model::OrgId,
    schema: &TableSchema,
    title: &str,
) -> RecordId {
    let field = schema.field_by_key("title").unwrap();
    let cell = parse_cell(&field.kind, &Value::from(title), &PARSE)
        .unwrap()
        .unwrap();
    let row = BTreeMap::from([(field.id, cell)]);
    match store
        .tenant(org)
        .create_records(
            &WriteContext::system(),
            schema,
            vec![row],
            TimeZone::SHANGHAI,
            None,
        )
        .await
        .unwrap()
    {
        tenon_store::WriteOutcome::Written(records) => records[0].id,
        other => panic!("{other:?}"),
    }
}

async fn rename(
    store: &Store,
    org: tenon_model::OrgId,
    schema: &TableSchema,
    id: RecordId,
    title: &str,
) {
    let field = schema.field_by_key("title").unwrap();
    let cell: CellValue = parse_cell(&field.kind, &Value::from(title), &PARSE)
        .unwrap()
        .unwrap();
    store
        .tenant(org)
        .update_records(
            &WriteContext::system(),
            schema,
            vec![RecordUpdate {
                id,
                expected_version: None,
                cells: BTreeMap::from([(field.id, Some(cell))]),
            }],
        )
        .await
        .unwrap();
}

async fn install(
    store: &Store,
    org: tenon_model::OrgId,
    scopes: &[Scope],
) -> (tenon_model::OAuthClient, tenon_model::Installation) {
    store
        .tenant(org)
        .register_client(
            &WriteContext::system(),
            ClientRegistration {
                name: Name::parse("Streamer").unwrap(),
                client_id: format!("tnc_{}", crate::uuid_suffix()),
                secret_digest: [7; 32],
                scopes: ScopeSet::of(scopes.iter().copied()),
                rate_limit: None,
                redirect_uris: Vec::new(),
            },
        )
        .await
        .unwrap()
}

/// (type, record id) of each claim.
fn summary(claims: &[StreamClaim]) -> Vec<(String, String)> {
    claims
        .iter()
        .map(|c| {
            (
                c.event.event_type.clone(),
                c.event.subject["record_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

fn pair(event_type: &str, id: RecordId) -> (String, String) {
    (event_type.to_owned(), id.to_string())
}

clock_tests! {
    async fn an_app_gets_events_from_its_installation_on_one_per_record_in_order_and_again_after_60_s(store, clock) {
        let (org, _) = new_org(&store, "Stream").await;
        let schema = notes(&store, org.id).await;
        let before = create(&store, org.id, &schema, "before the app").await;
        let (_client, installation) = install(&store, org.id, &[Scope::RecordsRead]).await;
        let tenant = store.tenant(org.id);
        // Committed while the app has no connection: they wait for it.
        let a = create(&store, org.id, &schema, "a").await;
        let b = create(&store, org.id, &schema, "b").await;
        rename(&store, org.id, &schema, a, "a2").await;
        let connection = store.open_stream_connection(installation.client_app_id).await.unwrap();

        let first = tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&first), vec![pair("record.created", a), pair("record.created", b)], "a's update waits for a's creation; {before} predates the app");
        assert!(first.iter().all(|c| c.attempt == 1));
        assert!(tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap().is_empty(), "nothing is due while both are in flight");

        assert!(tenant.stream_ack(installation.id, &first[0].message_id).await.unwrap());
        assert!(!tenant.stream_ack(installation.id, &first[0].message_id).await.unwrap(), "an ack counts once");
        let second = tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&second), vec![pair("record.updated", a)]);

        clock.advance(TimeDelta::seconds(59));
        assert!(tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap().is_empty(), "not yet 60 s");
        clock.advance(TimeDelta::seconds(2));
        let again = tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&again), vec![pair("record.created", b), pair("record.updated", a)]);
        assert!(again.iter().all(|c| c.attempt == 2));
        assert_eq!(again[0].event.id, first[1].event.id, "the event id is stable");
        assert_ne!(again[0].message_id, first[1].message_id, "the message id is new per attempt");
        assert!(!tenant.stream_ack(installation.id, &first[1].message_id).await.unwrap(), "the ack of a superseded attempt is not the current one");
        assert!(tenant.stream_ack(installation.id, &again[0].message_id).await.unwrap());
        let queue = tenant.stream_queue(installation.id).await.unwrap();
        assert_eq!(queue.iter().map(|q| q.event_id).collect::<Vec<_>>(), vec![again[1].event.id]);
    }

    async fn what_was_in_flight_on_a_closed_connection_goes_to_the_next_one_at_once(store, clock) {
        let (org, _) = new_org(&store, "Stream").await;
        let schema = notes(&store, org.id).await;
        let (client, installation) = install(&store, org.id, &[Scope::RecordsRead]).await;
        let tenant = store.tenant(org.id);
        let a = create(&store, org.id, &schema, "a").await;
        let first = store.open_stream_connection(client.id).await.unwrap();
        let sent = tenant.stream_pump(installation.id, first, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&sent), vec![pair("record.created", a)]);
        let second = store.open_stream_connection(client.id).await.unwrap();
        assert_eq!(store.live_stream_connections(client.id).await.unwrap(), 2);
        assert!(tenant.stream_pump(installation.id, second, &RECORD_TYPES).await.unwrap().is_empty(), "the first connection is alive and holds it");
        store.close_stream_connection(first).await.unwrap();
        let moved = tenant.stream_pump(installation.id, second, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&moved), vec![pair("record.created", a)]);
        assert_eq!(moved[0].attempt, 2);

        // A node that dies without closing: its connection goes stale and its events move on.
        let third = store.open_stream_connection(client.id).await.unwrap();
        store.close_stream_connection(second).await.unwrap();
        let b = create(&store, org.id, &schema, "b").await;
        let on_third = tenant.stream_pump(installation.id, third, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&on_third), vec![pair("record.created", a), pair("record.created", b)]);
        let fourth = store.open_stream_connection(client.id).await.unwrap();
        clock.advance(tenon_store::STREAM_CONNECTION_STALE_AFTER + TimeDelta::seconds(1));
        store.touch_stream_connection(fourth).await.unwrap();
        let on_fourth = tenant.stream_pump(installation.id, fourth, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&on_fourth), vec![pair("record.created", a), pair("record.created", b)]);
        assert_eq!(store.live_stream_connections(client.id).await.unwrap(), 1);

        // A restarted SQLite node (the only node) forgets its previous run's connections, stale or not;
        // PostgreSQL nodes leave each other's alone.
        let forgotten = store.forget_stream_connections_of_previous_run().await.unwrap();
        let expected = if store.backend() == tenon_store::Backend::Sqlite { 2 } else { 0 };
        assert_eq!(forgotten, expected);
    }

    async fn types_filter_what_is_handed_over_and_organizations_never_mix(store, _clock) {
        let (org, _) = new_org(&store, "Stream").await;
        let (other, _) = new_org(&store, "Other").await;
        let schema = notes(&store, org.id).await;
        let other_schema = notes(&store, other.id).await;
        let (client, installation) = install(&store, org.id, &[Scope::RecordsRead, Scope::DirectoryRead]).await;
        let tenant = store.tenant(org.id);
        let connection = store.open_stream_connection(client.id).await.unwrap();
        create(&store, other.id, &other_schema, "not ours").await;
        let a = create(&store, org.id, &schema, "a").await;
        // Asking for member events only passes record events over for good.
        assert!(tenant.stream_pump(installation.id, connection, &["member.created"]).await.unwrap().is_empty());
        let b = create(&store, org.id, &schema, "b").await;
        let claims = tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&claims), vec![pair("record.created", b)], "{a} was passed over");
        assert!(claims.iter().all(|c| c.event.org_id == org.id));
        // A queued event whose type the app may no longer read is dropped, not sent.
        let c = create(&store, org.id, &schema, "c").await;
        clock_free_drop(&store, org.id, installation.id, connection, c).await;
    }

    async fn wanted_selects_within_the_types_and_the_cursor_passes_what_it_refuses(store, _clock) {
        let (org, _) = new_org(&store, "Stream").await;
        let schema = notes(&store, org.id).await;
        let (client, installation) = install(&store, org.id, &[Scope::RecordsRead]).await;
        let tenant = store.tenant(org.id);
        let connection = store.open_stream_connection(client.id).await.unwrap();
        let a = create(&store, org.id, &schema, "a").await;
        let b = create(&store, org.id, &schema, "b").await;
        rename(&store, org.id, &schema, a, "a2").await;
        rename(&store, org.id, &schema, b, "b2").await;
        let only = |id: RecordId| move |event: &tenon_model::Event| event.subject["record_id"] == id.to_string();
        // b's events are of a wanted type but not wanted: passed over, never queued, nothing to acknowledge.
        let first = tenant.stream_pump_wanted(installation.id, connection, &RECORD_TYPES, &only(a)).await.unwrap();
        assert_eq!(summary(&first), vec![pair("record.created", a)]);
        let queued: Vec<i64> = tenant.stream_queue(installation.id).await.unwrap().iter().map(|q| q.event_seq).collect();
        assert_eq!(queued.len(), 2, "a's two events only: {queued:?}");
        assert!(tenant.stream_ack(installation.id, &first[0].message_id).await.unwrap());
        let second = tenant.stream_pump_wanted(installation.id, connection, &RECORD_TYPES, &only(a)).await.unwrap();
        assert_eq!(summary(&second), vec![pair("record.updated", a)]);
        assert!(tenant.stream_ack(installation.id, &second[0].message_id).await.unwrap());
        assert!(tenant.stream_queue(installation.id).await.unwrap().is_empty());
        // Wanting more later does not bring back what was passed over.
        assert!(tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap().is_empty());

        // Queued by a connection that wanted it, refused by the next: dropped when due, in the same
        // transaction, and the rest of the queue goes on.
        let c = create(&store, org.id, &schema, "c").await;
        let d = create(&store, org.id, &schema, "d").await;
        let sent = tenant.stream_pump(installation.id, connection, &RECORD_TYPES).await.unwrap();
        assert_eq!(summary(&sent), vec![pair("record.created", c), pair("record.created", d)]);
        store.close_stream_connection(connection).await.unwrap();
        let next = store.open_stream_connection(client.id).await.unwrap();
        let moved = tenant.stream_pump_wanted(installation.id, next, &RECORD_TYPES, &only(d)).await.unwrap();
        assert_eq!(summary(&moved), vec![pair("record.created", d)]);
        assert_eq!(moved[0].attempt, 2);
        let queue = tenant.stream_queue(installation.id).await.unwrap();
        assert_eq!(queue.iter().map(|q| q.event_id).collect::<Vec<_>>(), vec![moved[0].event.id], "c was dropped");
    }

    async fn tickets_are_single_use_and_expire_after_90_s(store, clock) {
        let (org, _) = new_org(&store, "Stream").await;
        let (client, _) = install(&store, org.id, &[Scope::RecordsRead]).await;
        let topics = vec!["*".to_owned()];
        store.create_stream_ticket(&[1; 32], client.id, &topics).await.unwrap();
        let ticket = store.take_stream_ticket(&[1; 32]).await.unwrap().unwrap();
        assert_eq!(ticket.client_app_id, client.id);
        assert_eq!(ticket.topics, topics);
        assert!(store.take_stream_ticket(&[1; 32]).await.unwrap().is_none(), "used");
        store.create_stream_ticket(&[2; 32], client.id, &topics).await.unwrap();
        clock.advance(TimeDelta::seconds(89));
        store.create_stream_ticket(&[3; 32], client.id, &topics).await.unwrap();
        clock.advance(TimeDelta::seconds(2));
        assert!(store.take_stream_ticket(&[2; 32]).await.unwrap().is_none(), "expired");
        assert!(store.take_stream_ticket(&[3; 32]).await.unwrap().is_some());
        assert!(store.take_stream_ticket(&[4; 32]).await.unwrap().is_none(), "unknown");
    }
}

async fn clock_free_drop(
    store: &Store,
    org: tenon_model::OrgId,
    installation: tenon_model::InstallationId,
    connection: tenon_model::StreamConnectionId,
    record: RecordId,
) {
    let tenant = store.tenant(org);
    // Handed over while readable, not yet sent (c waits behind nothing, so send it, then lose the scope).
    let sent = tenant
        .stream_pump(installation, connection, &RECORD_TYPES)
        .await
        .unwrap();
    assert_eq!(summary(&sent), vec![pair("record.created", record)]);
    store.close_stream_connection(connection).await.unwrap();
    let next = store
        .open_stream_connection(installation_client(store, org, installation).await)
        .await
        .unwrap();
    assert!(
        tenant
            .stream_pump(installation, next, &["member.created"])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tenant
            .stream_queue(installation)
            .await
            .unwrap()
            .iter()
            .all(|q| q.event_seq != sent[0].event.seq),
        "dropped"
    );
}

async fn installation_client(
    store: &Store,
    org: tenon_model::OrgId,
    installation: tenon_model::InstallationId,
) -> tenon_model::ClientAppId {
    store
        .tenant(org)
        .installation(installation)
        .await
        .unwrap()
        .client_app_id
}
