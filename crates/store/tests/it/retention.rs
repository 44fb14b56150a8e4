//! Event retention on both backends: what pruning deletes (old events whose deliveries are finished, with
//! their deliveries and attempts), what it never deletes (pending deliveries, events not yet fanned out or
//! still queued for a stream app, the newest event), and how a cursor naming a deleted event is answered.

use std::num::NonZeroU32;

use chrono::TimeDelta;
use tenon_model::events::EVENT_TYPES;
use tenon_model::subscriptions::NextStep;
use tenon_model::{
    Event, EventId, MemberId, Name, OrgId, PageRequest, Scope, ScopeSet, SubscriptionId,
};
use tenon_store::testing::table_rows;
use tenon_store::{
    ClaimedDelivery, ClientRegistration, Store, StoreError, SubscriptionOwner, WriteContext,
};

use crate::deliveries::{ctx, outcome, subscription};
use crate::{clock_tests, new_member, new_org};

const RETENTION_DAYS: NonZeroU32 = NonZeroU32::new(30).unwrap();

/// Prunes the organization in batches of `limit` until nothing is left to look at; returns the events
/// deleted.
async fn prune(store: &Store, org: OrgId, limit: u32) -> u64 {
    let mut after_seq = 0;
    let mut pruned = 0;
    for _ in 0..1000 {
        let batch = store
            .tenant(org)
            .prune_events(RETENTION_DAYS, after_seq, limit)
            .await
            .unwrap();
        pruned += batch.pruned;
        match batch.next_after_seq {
            Some(next) => {
                assert!(next > after_seq, "a batch moves forward");
                after_seq = next;
            }
            None => return pruned,
        }
    }
    panic!("pruning never finished");
}

async fn events(store: &Store, org: OrgId) -> Vec<Event> {
    store
        .tenant(org)
        .events_after(0, &EVENT_TYPES, 1000)
        .await
        .unwrap()
}

async fn create_member(store: &Store, org: OrgId, name: &str) -> MemberId {
    store
        .tenant(org)
        .create_member(&ctx(), new_member(name, None))
        .await
        .unwrap()
        .id
}

/// The event whose subject is this member and whose type is `event_type`.
fn event_of(events: &[Event], member: MemberId, event_type: &str) -> Option<EventId> {
    events
        .iter()
        .find(|e| e.event_type == event_type && e.subject["member_id"] == member.to_string())
        .map(|e| e.id)
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

fn member_of(claimed: &ClaimedDelivery) -> String {
    claimed.event.subject["member_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn delivery_events(store: &Store, org: OrgId, sub: SubscriptionId) -> Vec<EventId> {
    store
        .tenant(org)
        .list_deliveries(
            SubscriptionOwner::Organization,
            sub,
            None,
            PageRequest::first(100).unwrap(),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|d| d.event_id)
        .collect()
}

async fn install(store: &Store, org: OrgId, name: &str) -> tenon_model::Installation {
    store
        .tenant(org)
        .register_client(
            &WriteContext::system(),
            ClientRegistration {
                name: Name::parse(name).unwrap(),
                client_id: format!("tnc_{}", crate::uuid_suffix()),
                secret_digest: [7; 32],
                scopes: ScopeSet::of([Scope::DirectoryRead]),
                rate_limit: None,
                redirect_uris: Vec::new(),
            },
        )
        .await
        .unwrap()
        .1
}

clock_tests! {
    async fn pruning_deletes_old_events_whose_deliveries_finished_with_their_log_and_never_a_pending_one(store, clock) {
        let (org, _) = new_org(&store, "Old").await;
        let (other, _) = new_org(&store, "Other").await;
        let tenant = store.tenant(org.id);
        let sub = tenant.create_subscription(&ctx(), subscription(&["member.*"], None)).await.unwrap();
        let delivered = create_member(&store, org.id, "Delivered").await;
        let dead = create_member(&store, org.id, "Dead").await;
        let pending = create_member(&store, org.id, "Pending").await;
        assert_eq!(store.fan_out_events().await.unwrap(), 3);
        let claimed = store.claim_deliveries(10, store.now() + TimeDelta::seconds(30)).await.unwrap();
        assert_eq!(claimed.len(), 3);
        let outcomes: Vec<_> = claimed.iter().map(|c| {
            let next = match member_of(c) {
                m if m == delivered.to_string() => NextStep::Delivered,
                m if m == dead.to_string() => NextStep::Dead,
                // Still retrying when the retention has passed.
                _ => NextStep::RetryAt(store.now() + TimeDelta::days(40)),
            };
            outcome(c, &store, next)
        }).collect();
        store.record_attempts(&outcomes).await.unwrap();
        assert_eq!(table_rows(&store, "delivery_attempts").await, 3);
        let before = events(&store, org.id).await;
        let pending_event = event_of(&before, pending, "member.created").unwrap();
        let other_before = events(&store, other.id).await;
        let orgs = store.organizations_with_events(None, 10).await.unwrap();
        assert!(orgs.contains(&org.id) && orgs.contains(&other.id));

        // Inside the retention nothing goes.
        clock.advance(TimeDelta::days(29));
        assert_eq!(prune(&store, org.id, 2).await, 0);
        assert_eq!(ids(&events(&store, org.id).await), ids(&before));

        clock.advance(TimeDelta::days(2));
        let young = create_member(&store, org.id, "Young").await;
        let last_seq = tenant.last_event_seq().await.unwrap();
        // Batches of two: several transactions, each moving on from where the last one stopped.
        let pruned = prune(&store, org.id, 2).await;
        assert_eq!(pruned as usize, before.len() - 1, "every old event but the one with a pending delivery");
        let after = events(&store, org.id).await;
        assert_eq!(ids(&after), vec![pending_event, event_of(&after, young, "member.created").unwrap()]);
        // The deliveries of deleted events went with them, and their attempts; the pending one is whole.
        assert_eq!(delivery_events(&store, org.id, sub.id).await, vec![pending_event]);
        assert_eq!(table_rows(&store, "delivery_attempts").await, 1);
        // Another organization is not touched; numbering goes on after the last number given.
        assert_eq!(ids(&events(&store, other.id).await), ids(&other_before));
        assert_eq!(tenant.last_event_seq().await.unwrap(), last_seq);
        create_member(&store, org.id, "Next").await;
        let next = tenant.events_after(last_seq, &EVENT_TYPES, 10).await.unwrap();
        assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![last_seq + 1], "no number is given twice");

        // Once its delivery finishes, the old event goes too; the newest stays, however old.
        clock.advance(TimeDelta::days(41));
        store.fan_out_events().await.unwrap();
        let claimed = store.claim_deliveries(10, store.now() + TimeDelta::seconds(30)).await.unwrap();
        assert_eq!(claimed.len(), 3, "the retry, Young and Next");
        let outcomes: Vec<_> = claimed.iter().map(|c| outcome(c, &store, NextStep::Delivered)).collect();
        store.record_attempts(&outcomes).await.unwrap();
        assert_eq!(prune(&store, org.id, 500).await, 2);
        assert_eq!(events(&store, org.id).await.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![last_seq + 1]);
        assert_eq!(table_rows(&store, "delivery_attempts").await, 1, "the newest event's attempt");
    }

    async fn events_not_yet_fanned_out_stay_until_every_enabled_subscription_has_them(store, clock) {
        let (org, _) = new_org(&store, "Behind").await;
        let tenant = store.tenant(org.id);
        tenant.create_subscription(&ctx(), subscription(&["department.*"], None)).await.unwrap();
        let waiting = create_member(&store, org.id, "Not fanned out").await;
        clock.advance(TimeDelta::days(31));
        create_member(&store, org.id, "Newest").await;
        prune(&store, org.id, 500).await;
        let kept = events(&store, org.id).await;
        assert!(event_of(&kept, waiting, "member.created").is_some(), "the subscription's cursor is before it");
        assert_eq!(kept.len(), 2);
        // The fan-out passes it (no delivery: the subscription wants departments): now it may go.
        assert_eq!(store.fan_out_events().await.unwrap(), 0);
        assert_eq!(prune(&store, org.id, 500).await, 1);
        assert_eq!(events(&store, org.id).await.len(), 1);
    }

    async fn a_stream_apps_unacknowledged_events_stay_and_its_cursor_starts_at_its_installation_after_that_event_is_gone(store, clock) {
        const TYPES: [&str; 2] = ["member.created", "member.deleted"];
        let (org, _) = new_org(&store, "Stream").await;
        let tenant = store.tenant(org.id);
        // A deletion from before the apps were installed is kept by its pending delivery.
        let sub = tenant.create_subscription(&ctx(), subscription(&["member.deleted"], None)).await.unwrap();
        let early = create_member(&store, org.id, "Early").await;
        tenant.delete_member(&ctx(), early).await.unwrap();
        store.fan_out_events().await.unwrap();
        let claimed = store.claim_deliveries(10, store.now() + TimeDelta::seconds(30)).await.unwrap();
        store.record_attempts(&[outcome(&claimed[0], &store, NextStep::RetryAt(store.now() + TimeDelta::days(60)))]).await.unwrap();
        let later = install(&store, org.id, "Connects later").await;
        let online = install(&store, org.id, "Online").await;
        let handed = create_member(&store, org.id, "Handed over").await;
        let connection = store.open_stream_connection(online.client_app_id).await.unwrap();
        let claims = tenant.stream_pump(online.id, connection, &TYPES).await.unwrap();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].event.subject["member_id"], handed.to_string());
        let handed_event = claims[0].event.id;

        clock.advance(TimeDelta::days(31));
        let newest = create_member(&store, org.id, "Newest").await;
        store.fan_out_events().await.unwrap();
        prune(&store, org.id, 500).await;
        let kept = events(&store, org.id).await;
        assert_eq!(ids(&kept), vec![
            event_of(&kept, early, "member.deleted").unwrap(),
            handed_event,
            event_of(&kept, newest, "member.created").unwrap(),
        ], "the pending delivery, the unacknowledged stream event and the newest");
        assert!(tenant.events_after(0, &["app.installed"], 10).await.unwrap().is_empty());
        assert_eq!(tenant.stream_queue(online.id).await.unwrap().len(), 1, "the queue still holds it");
        assert_eq!(delivery_events(&store, org.id, sub.id).await.len(), 1);

        // First connection of the other app: it starts at its installation, not at the oldest event kept.
        let connection = store.open_stream_connection(later.client_app_id).await.unwrap();
        let claims = tenant.stream_pump(later.id, connection, &TYPES).await.unwrap();
        assert_eq!(claims.iter().map(|c| c.event.id).collect::<Vec<_>>(), vec![handed_event, event_of(&kept, newest, "member.created").unwrap()]);

        // Acknowledged by both apps, the handed-over event may go.
        let online_queue = tenant.stream_queue(online.id).await.unwrap();
        assert!(tenant.stream_ack(online.id, online_queue[0].message_id.as_deref().unwrap()).await.unwrap());
        assert_eq!(prune(&store, org.id, 500).await, 0, "the other app has not acknowledged it");
        assert!(tenant.stream_ack(later.id, &claims[0].message_id).await.unwrap());
        assert_eq!(prune(&store, org.id, 500).await, 1);
        assert!(!ids(&events(&store, org.id).await).contains(&handed_event));
    }

    async fn a_cursor_naming_a_pruned_event_is_expired_and_an_unknown_one_not_found(store, clock) {
        let (org, _) = new_org(&store, "Cursor").await;
        let (other, _) = new_org(&store, "Other").await;
        let tenant = store.tenant(org.id);
        let first = create_member(&store, org.id, "First").await;
        let old_other = events(&store, other.id).await[0].id;
        let first_event = event_of(&events(&store, org.id).await, first, "member.created").unwrap();
        clock.advance(TimeDelta::days(31));
        create_member(&store, org.id, "Newest").await;
        assert!(prune(&store, org.id, 500).await > 0);
        let newest = events(&store, org.id).await;
        assert_eq!(newest.len(), 1);

        assert!(matches!(tenant.event_cursor(first_event).await, Err(StoreError::EventExpired { retention_days: 30 })));
        let page = PageRequest::new(10, Some(first_event)).unwrap();
        assert!(matches!(tenant.list_events(&EVENT_TYPES, page).await, Err(StoreError::EventExpired { retention_days: 30 })));
        // An id no event ever had (newer than every deleted one) is not found, as before.
        assert!(matches!(tenant.event_cursor(EventId::new()).await, Err(StoreError::NotFound { .. })));
        // The newest event is a cursor that still works: a reader that read everything waits for more.
        let page = PageRequest::new(10, Some(newest[0].id)).unwrap();
        assert!(tenant.list_events(&EVENT_TYPES, page).await.unwrap().items.is_empty());
        assert_eq!(tenant.event_cursor(newest[0].id).await.unwrap(), newest[0].seq);
        // The other organization pruned nothing: its old event is its cursor still.
        assert!(store.tenant(other.id).event_cursor(old_other).await.is_ok());
        let fresh_other = create_member(&store, other.id, "Fresh").await;
        let fresh_other = event_of(&events(&store, other.id).await, fresh_other, "member.created").unwrap();
        assert!(matches!(tenant.event_cursor(fresh_other).await, Err(StoreError::NotFound { .. })), "another organization's event is not ours");
    }
}
