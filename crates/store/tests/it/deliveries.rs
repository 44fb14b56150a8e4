//! The delivery queue on both backends: fan-out by type and by the owning app's scopes, claims that
//! never overlap and keep one subject's events in order, attempts and the dead letter.

use std::collections::HashSet;

use chrono::TimeDelta;
use tenon_model::subscriptions::{DeliveryAttempt, DeliveryStatus, NextStep};
use tenon_model::{Name, PageRequest, Scope, ScopeSet};
use tenon_store::{
    AttemptOutcome, ClientRegistration, NewInstallation, NewSubscription, Store, SubscriptionOwner,
    WriteContext, fan_out_chunk,
};

use crate::{backend_tests, new_member, new_org};

pub(crate) fn ctx() -> WriteContext {
    WriteContext::system()
}

pub(crate) fn subscription(
    types: &[&str],
    installation: Option<tenon_model::InstallationId>,
) -> NewSubscription {
    NewSubscription {
        installation_id: installation,
        url: "http://127.0.0.1:9/hook".into(),
        description: None,
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        app_id: None,
        table_id: None,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        dingtalk: None,
    }
}

pub(crate) fn outcome(
    claimed: &tenon_store::ClaimedDelivery,
    store: &Store,
    next: NextStep,
) -> AttemptOutcome {
    AttemptOutcome {
        org_id: claimed.org_id,
        delivery_id: claimed.id,
        subscription_id: claimed.subscription_id,
        attempt: DeliveryAttempt {
            at: store.now(),
            status_code: Some(500),
            latency_ms: 3,
            error: Some("boom".into()),
            response_excerpt: None,
        },
        next,
    }
}

backend_tests! {
    async fn installing_an_app_is_an_event_and_its_subscriptions_get_only_what_its_scopes_allow(store) {
        let (a, _) = new_org(&store, "A").await;
        let (b, _) = new_org(&store, "B").await;
        let (client, _) = store
            .tenant(a.id)
            .register_client(&ctx(), ClientRegistration {
                name: Name::parse("Sync").unwrap(),
                client_id: format!("tnc_{}", crate::uuid_suffix()),
                secret_digest: [7; 32],
                scopes: ScopeSet::of([Scope::DirectoryRead, Scope::RecordsRead]),
                rate_limit: None,
                redirect_uris: Vec::new(),
            })
            .await
            .unwrap();
        let tenant = store.tenant(b.id);
        let installation = tenant
            .install(&ctx(), NewInstallation { client_id: client.client_id.clone(), scopes: ScopeSet::of([Scope::DirectoryRead]), rate_limit: None })
            .await
            .unwrap();
        let installed = tenant.events_after(0, &["app.installed"], 10).await.unwrap();
        assert_eq!(installed.len(), 1);
        assert_eq!(installed[0].subject["installation_id"], installation.id.to_string());
        // The app asks for everything; it may read only the directory.
        let sub = tenant.create_subscription(&ctx(), subscription(&["*"], Some(installation.id))).await.unwrap();
        let org_sub = tenant.create_subscription(&ctx(), subscription(&["member.created"], None)).await.unwrap();
        tenant.create_member(&ctx(), new_member("Bo", None)).await.unwrap();
        store.tenant(a.id).create_member(&ctx(), new_member("Not B's", None)).await.unwrap();
        assert_eq!(store.fan_out_events().await.unwrap(), 2, "one member.created each; nothing of A");
        let mine = tenant.list_deliveries(SubscriptionOwner::Installation(installation.id), sub.id, None, PageRequest::first(10).unwrap()).await.unwrap();
        assert_eq!(mine.items.iter().map(|d| d.event_type.as_str()).collect::<Vec<_>>(), ["member.created"]);
        // The app sees its own subscription only.
        let listed = tenant.list_subscriptions(SubscriptionOwner::Installation(installation.id), PageRequest::first(10).unwrap()).await.unwrap();
        assert_eq!(listed.items.iter().map(|s| s.id).collect::<Vec<_>>(), [sub.id]);
        assert!(tenant.subscription(SubscriptionOwner::Installation(installation.id), org_sub.id).await.is_err());
        // Uninstalling is an event, and the app's subscriptions go with it.
        tenant.uninstall(&ctx(), installation.id).await.unwrap();
        assert_eq!(tenant.events_after(0, &["app.uninstalled"], 10).await.unwrap().len(), 1);
        assert!(tenant.subscription(SubscriptionOwner::Organization, sub.id).await.is_err());
    }

    async fn claims_never_overlap_keep_a_subjects_order_and_end_in_the_dead_letter(store) {
        let (org, _) = new_org(&store, "Queue").await;
        let tenant = store.tenant(org.id);
        let sub = tenant.create_subscription(&ctx(), subscription(&["member.*"], None)).await.unwrap();
        let mut members = Vec::new();
        for i in 0..6 {
            members.push(tenant.create_member(&ctx(), new_member(&format!("M{i}"), None)).await.unwrap());
        }
        // A second event of the first member: it must wait for the first.
        tenant.delete_member(&ctx(), members[0].id).await.unwrap();
        assert_eq!(store.fan_out_events().await.unwrap(), 7);
        assert_eq!(store.fan_out_events().await.unwrap(), 0, "the cursor moved");
        let lease = store.now() + TimeDelta::seconds(30);
        let (first, second) = tokio::join!(store.claim_deliveries(4, lease), store.claim_deliveries(4, lease));
        let (first, second) = (first.unwrap(), second.unwrap());
        let ids: HashSet<_> = first.iter().chain(&second).map(|c| c.id).collect();
        assert_eq!(ids.len(), first.len() + second.len(), "no delivery claimed twice");
        assert_eq!(ids.len(), 6, "six subjects are claimable; the deletion waits for the creation");
        assert!(first.iter().chain(&second).all(|c| c.event.event_type == "member.created"));
        assert!(store.claim_deliveries(10, lease).await.unwrap().is_empty(), "leased deliveries are not due");
        // Fail the first member's creation for good: its deletion becomes claimable.
        let claimed: Vec<_> = first.into_iter().chain(second).collect();
        let head = claimed.iter().find(|c| c.event.subject["member_id"] == members[0].id.to_string()).unwrap();
        let mut outcomes = vec![outcome(head, &store, NextStep::Dead)];
        outcomes.extend(claimed.iter().filter(|c| c.id != head.id).map(|c| outcome(c, &store, NextStep::Delivered)));
        store.record_attempts(&outcomes).await.unwrap();
        let next = store.claim_deliveries(10, lease).await.unwrap();
        assert_eq!(next.iter().map(|c| c.event.event_type.as_str()).collect::<Vec<_>>(), ["member.deleted"]);
        let dead = tenant.list_deliveries(SubscriptionOwner::Organization, sub.id, Some(DeliveryStatus::Dead), PageRequest::first(10).unwrap()).await.unwrap();
        assert_eq!(dead.items.len(), 1);
        assert_eq!(dead.items[0].attempt_log[0].error.as_deref(), Some("boom"));
        // A success among the batch ended the failure run.
        assert!(tenant.subscription(SubscriptionOwner::Organization, sub.id).await.unwrap().failing_since.is_none());
    }
    async fn a_subscription_is_fanned_out_only_while_few_of_its_deliveries_wait(store) {
        let (org, rooms, _) = crate::apps::booking_app(&store).await;
        let tenant = store.tenant(org);
        let sub = tenant.create_subscription(&ctx(), subscription(&["record.created"], None)).await.unwrap();
        // One subscription behind: it has the largest chunk.
        let chunk = fan_out_chunk(store.backend(), 1);
        let written = 3 * chunk as usize - 1;
        for start in (0..written).step_by(1000) {
            let rows = (start..(start + 1000).min(written))
                .map(|n| crate::apps::cells(&rooms, serde_json::json!({"room": format!("R{n}"), "beds": 1})))
                .collect();
            crate::apps::written(tenant.create_records(&ctx(), &rooms, rows, tenon_model::TimeZone::SHANGHAI, None).await.unwrap());
        }
        let mut events = Vec::new();
        loop {
            let after = events.last().map_or(0, |event: &tenon_model::Event| event.seq);
            let page = tenant.events_after(after, &["record.created"], 1000).await.unwrap();
            if page.is_empty() {
                break;
            }
            events.extend(page);
        }
        assert_eq!(events.len(), written);
        // The events of a subscription's deliveries (the pending ones, or all).
        let queued = |pending: bool| {
            let tenant = store.tenant(org);
            async move {
                let status = pending.then_some(DeliveryStatus::Pending);
                let (mut events, mut after) = (Vec::new(), None);
                loop {
                    let page = PageRequest::new(1000, after).unwrap();
                    let page = tenant.list_deliveries(SubscriptionOwner::Organization, sub.id, status, page).await.unwrap();
                    events.extend(page.items.iter().map(|d| d.event_id));
                    after = page.next_after;
                    if after.is_none() {
                        return events;
                    }
                }
            }
        };
        assert_eq!(store.fan_out_events().await.unwrap(), u64::from(chunk));
        // As many wait as it may have ahead: the rest stays behind its cursor until some are sent.
        assert_eq!(store.fan_out_events().await.unwrap(), 0);
        let sent = store.claim_deliveries(1, store.now() + TimeDelta::seconds(30)).await.unwrap();
        assert_eq!(sent.len(), 1);
        store.record_attempts(&[outcome(&sent[0], &store, NextStep::Delivered)]).await.unwrap();
        let chunk = chunk as usize;
        assert_eq!(queued(true).await.len(), chunk - 1);
        // One fewer than that waits: the next events are fanned out, from where the cursor stopped.
        assert_eq!(store.fan_out_events().await.unwrap(), chunk as u64);
        assert_eq!(store.fan_out_events().await.unwrap(), 0);
        assert_eq!(queued(true).await.len(), 2 * chunk - 1);
        let mut fanned_out: Vec<_> = queued(false).await;
        fanned_out.sort();
        let mut first: Vec<_> = events[..2 * chunk].iter().map(|event| event.id).collect();
        first.sort();
        assert_eq!(fanned_out, first);
    }

    async fn the_subscriptions_behind_share_what_may_be_fanned_out_ahead(store) {
        let (org, rooms, _) = crate::apps::booking_app(&store).await;
        let tenant = store.tenant(org);
        let mut subs = Vec::new();
        for _ in 0..16 {
            subs.push(tenant.create_subscription(&ctx(), subscription(&["record.created"], None)).await.unwrap());
        }
        let written: u32 = 300;
        let rows = (0..written)
            .map(|n| crate::apps::cells(&rooms, serde_json::json!({"room": format!("R{n}"), "beds": 1})))
            .collect();
        crate::apps::written(tenant.create_records(&ctx(), &rooms, rows, tenon_model::TimeZone::SHANGHAI, None).await.unwrap());
        // Sixteen behind share the chunk: on SQLite 128 each (fewer than the 300 written).
        let shared = fan_out_chunk(store.backend(), 16);
        let lone = fan_out_chunk(store.backend(), 1);
        if store.backend() == tenon_store::Backend::Sqlite {
            assert!(shared < written && lone > written, "SQLite shares: {shared} each of 16, {lone} alone");
        } else {
            assert_eq!(shared, lone);
        }
        let first = shared.min(written);
        assert_eq!(store.fan_out_events().await.unwrap(), 16 * u64::from(first));
        assert_eq!(store.fan_out_events().await.unwrap(), 0);
        // Alone behind, the last one has the largest chunk: the rest of its events are fanned out.
        for sub in &subs[1..] {
            tenant.delete_subscription(&ctx(), SubscriptionOwner::Organization, sub.id).await.unwrap();
        }
        assert_eq!(store.fan_out_events().await.unwrap(), u64::from(written.min(lone) - first));
        let page = PageRequest::first(1000).unwrap();
        let waiting = tenant.list_deliveries(SubscriptionOwner::Organization, subs[0].id, Some(DeliveryStatus::Pending), page).await.unwrap();
        assert_eq!(waiting.items.len(), written as usize);
    }

    async fn a_delivery_deleted_while_in_flight_does_not_lose_the_batchs_other_outcomes(store) {
        let (org, _) = new_org(&store, "Gone").await;
        let tenant = store.tenant(org.id);
        let kept = tenant.create_subscription(&ctx(), subscription(&["member.created"], None)).await.unwrap();
        let gone = tenant.create_subscription(&ctx(), subscription(&["member.created"], None)).await.unwrap();
        tenant.create_member(&ctx(), new_member("Both hear it", None)).await.unwrap();
        assert_eq!(store.fan_out_events().await.unwrap(), 2);
        let claimed = store.claim_deliveries(10, store.now() + TimeDelta::seconds(30)).await.unwrap();
        assert_eq!(claimed.len(), 2);
        // While the attempts are on the wire, one subscription is deleted (its app uninstalled, say).
        tenant.delete_subscription(&ctx(), SubscriptionOwner::Organization, gone.id).await.unwrap();
        let outcomes: Vec<_> = claimed.iter().map(|c| outcome(c, &store, NextStep::Delivered)).collect();
        store.record_attempts(&outcomes).await.unwrap();
        let log = tenant.list_deliveries(SubscriptionOwner::Organization, kept.id, None, PageRequest::first(10).unwrap()).await.unwrap();
        assert_eq!(log.items.len(), 1);
        assert_eq!(log.items[0].status, DeliveryStatus::Delivered, "the other outcome was recorded");
        assert_eq!(log.items[0].attempt_log.len(), 1);
        assert!(store.claim_deliveries(10, store.now() + TimeDelta::seconds(30)).await.unwrap().is_empty());
    }
}
