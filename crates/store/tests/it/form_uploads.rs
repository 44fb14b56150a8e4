//! Public form uploads never submitted (#23): once expired, the purge deletes their attachment rows and
//! their bytes, but never a taken upload, an unexpired one, or bytes another attachment still names.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::TimeDelta;
use serde_json::{Map, json};
use tenon_model::apps::view::ViewType;
use tenon_model::apps::{CellValue, TableSchema};
use tenon_model::{AttachmentId, FieldId, Name, TimeZone};
use tenon_store::testing::{TestBackend, TestDatabase};
use tenon_store::{
    Attachment, FormUploadSlot, FormWrite, NewApp, NewTable, PurgedUploads, Store, Tenant,
    ViewSpec, WriteContext,
};

use crate::apps::spec;
use crate::{manual_clock, new_org};

/// A form on a table with one attachment field: the table, its view and the field.
async fn form(tenant: &Tenant<'_>) -> (TableSchema, tenon_model::ViewId, FieldId) {
    let ctx = WriteContext::system();
    let app = tenant
        .create_app(
            &ctx,
            NewApp {
                name: Name::parse("Applications").unwrap(),
                key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    let schema = tenant
        .create_table(
            &ctx,
            &app,
            NewTable {
                name: Name::parse("Requests").unwrap(),
                key: None,
                fields: vec![
                    spec("Name", "name", "text", json!({})),
                    spec("Photo", "photo", "attachment", json!({})),
                ],
                primary_field: None,
                unique_together: vec![],
                indexes: vec![],
                validation_rules: vec![],
            },
            &tenon_model::apps::ParseContext {
                org_time_zone: TimeZone::SHANGHAI,
            },
        )
        .await
        .unwrap();
    let view = tenant
        .create_view(
            &ctx,
            &schema,
            ViewSpec {
                name: Name::parse("Apply").unwrap(),
                key: None,
                view_type: ViewType::Form,
                config: Map::new(),
                fresh_slug: format!("apply-{}", crate::uuid_suffix()),
            },
        )
        .await
        .unwrap();
    let photo = schema.field_by_key("photo").unwrap().id;
    (schema, view.id, photo)
}

async fn upload(
    store: &Store,
    tenant: &Tenant<'_>,
    view: tenon_model::ViewId,
    field: FieldId,
    submission: &str,
    valid_for: TimeDelta,
    bytes: &[u8],
) -> Attachment {
    let slot = FormUploadSlot {
        view,
        field,
        submission: submission.to_owned(),
        expires_at: store.now() + valid_for,
    };
    tenant
        .create_form_upload(&WriteContext::system(), &slot, "a.png", "image/png", bytes)
        .await
        .unwrap()
}

fn bytes_on_disk(files: &Path, attachment: &Attachment) -> bool {
    files
        .join(&attachment.sha256[..2])
        .join(&attachment.sha256)
        .exists()
}

async fn expired_untaken_uploads_go_with_their_files_and_nothing_else(backend: TestBackend) {
    let database = TestDatabase::create(backend).await;
    let files = database.dir.path().join("files");
    let clock = manual_clock();
    let store = Store::connect(&database.config, clock.clone())
        .await
        .expect("connect")
        .with_files_dir(files.clone());
    store.migrate().await.expect("migrate");
    let (org, _) = new_org(&store, "Charity").await;
    let (other_org, _) = new_org(&store, "Tea shop").await;
    let tenant = store.tenant(org.id);
    let (schema, view, photo) = form(&tenant).await;
    let hour = TimeDelta::hours(1);

    let untaken = upload(&store, &tenant, view, photo, "s1", hour, b"never submitted").await;
    let taken = upload(&store, &tenant, view, photo, "s2", hour, b"submitted").await;
    let fresh = upload(
        &store,
        &tenant,
        view,
        photo,
        "s3",
        hour * 48,
        b"still in time",
    )
    .await;
    // The same bytes as a live attachment of another organization: the row goes, the file stays.
    let shared = upload(&store, &tenant, view, photo, "s4", hour, b"shared bytes").await;
    let live = store
        .tenant(other_org.id)
        .create_attachment(
            &WriteContext::system(),
            "b.png",
            "image/png",
            b"shared bytes",
        )
        .await
        .unwrap();
    assert_eq!(live.sha256, shared.sha256);

    let mut cells = BTreeMap::new();
    cells.insert(photo, Some(CellValue::Ids(vec![*taken.id.as_uuid()])));
    tenant
        .write_form_submission(
            &WriteContext::system(),
            &schema,
            FormWrite {
                view,
                cells,
                form_fields: vec![photo],
                upsert_keys: vec![],
                uploads: vec![(photo, taken.id)],
                submission: Some("s2".to_owned()),
                details: vec![],
                guard: None,
            },
            TimeZone::SHANGHAI,
        )
        .await
        .unwrap();

    // Nothing has expired yet.
    assert_eq!(
        store.purge_expired_form_uploads().await.unwrap(),
        PurgedUploads::default()
    );

    clock.advance(TimeDelta::hours(2));
    assert_eq!(
        store.purge_expired_form_uploads().await.unwrap(),
        PurgedUploads {
            uploads: 2,
            files: 1
        },
        "the untaken upload and the one sharing its bytes are deleted; only the first one's file"
    );
    let left = tenant
        .attachments(&[untaken.id, taken.id, fresh.id, shared.id])
        .await
        .unwrap();
    let mut left: Vec<AttachmentId> = left.into_keys().collect();
    left.sort();
    let mut kept = vec![taken.id, fresh.id];
    kept.sort();
    assert_eq!(left, kept);
    assert!(!bytes_on_disk(&files, &untaken));
    assert!(bytes_on_disk(&files, &taken));
    assert!(bytes_on_disk(&files, &fresh));
    assert!(
        bytes_on_disk(&files, &shared),
        "another organization's attachment names these bytes"
    );
    assert!(store.tenant(other_org.id).attachment(live.id).await.is_ok());
    assert_eq!(
        tenant.pending_form_uploads(view, "s3").await.unwrap().len(),
        1
    );

    // A purge that finds nothing changes nothing; the same bytes uploaded again are stored again.
    assert_eq!(
        store.purge_expired_form_uploads().await.unwrap(),
        PurgedUploads::default()
    );
    let again = upload(&store, &tenant, view, photo, "s5", hour, b"never submitted").await;
    assert_eq!(again.sha256, untaken.sha256);
    assert!(bytes_on_disk(&files, &again));

    store.close().await;
    database.cleanup().await;
}

#[tokio::test]
async fn sqlite() {
    expired_untaken_uploads_go_with_their_files_and_nothing_else(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    expired_untaken_uploads_go_with_their_files_and_nothing_else(TestBackend::Postgres).await;
}
