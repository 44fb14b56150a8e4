//! Signed per-record links, shared by the JSON API (`/api/v1/shares/{token}`) and the browser page
//! (`/s/{token}`, `tenon-web`): one code path opens a link and takes an edit, so both check the same
//! things in the same order — the visitor's rate limit, the token, expiry and revocation, the record, and
//! the access of the member who made the link — and write nothing when any check fails.
//!
//! A link never shows or changes more than its maker may today: fields the maker's app roles now hide
//! drop out of the link, fields now read-only become read-only on it, and a record the maker may no
//! longer read — or a maker who left the organization — makes the link answer 410 `share_gone`
//! (`revoked`) as if it had been revoked.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tenon_model::apps::input::{WriteMode, parse_record_fields};
use tenon_model::apps::permissions::RecordAction;
use tenon_model::apps::{Field, FieldType, Record, TableSchema};
use tenon_model::{Actor, DetailCode, ErrorCode, FieldError, FieldId, Organization};
use tenon_store::{RecordUpdate, Share, ShareMode, StoreError, WriteContext};

use crate::error::{ApiError, ApiResult};
use crate::routes::records_io::{KeyBy, RenderContext};
use crate::service::access::Access;
use crate::state::AppState;

/// Opens of one link from one address (page views and JSON reads).
pub const SHARE_READ_LIMIT: &str = "60/min,burst=120";

/// Edits through one link from one address.
pub const SHARE_EDIT_LIMIT: &str = "10/min,burst=20";

/// A link's lifetime when its maker names none.
pub const SHARE_DAYS_DEFAULT: i64 = 30;

/// The longest lifetime a link may have.
pub const SHARE_DAYS_MAX: i64 = 365;

/// A field as the link shows it.
#[derive(Debug, Clone)]
pub struct SharedField {
    pub field: Field,
    /// The visitor may change it (an edit link, a type a plain form can take, and the maker may write it).
    pub editable: bool,
}

/// An open link: the record with the fields it shows.
#[derive(Debug, Clone)]
pub struct OpenShare {
    pub share: Share,
    pub schema: TableSchema,
    pub organization: Organization,
    pub record: Record,
    /// In the order the maker chose.
    pub fields: Vec<SharedField>,
    /// The maker's access, which bounds the link's.
    access: Access,
    /// The maker's name, shown on the page (`None`: made by an organization token).
    pub shared_by: Option<String>,
}

impl OpenShare {
    /// The same link over the record as it is after an edit.
    pub fn with_record(self, record: Record) -> OpenShare {
        OpenShare { record, ..self }
    }

    pub fn editable(&self) -> impl Iterator<Item = &SharedField> {
        self.fields.iter().filter(|shared| shared.editable)
    }

    fn field_ids(&self) -> Vec<FieldId> {
        self.fields.iter().map(|shared| shared.field.id).collect()
    }
}

/// Whether a field type can be changed through a link's plain form (no pickers of the organization's
/// members, departments or records; no uploads; nothing computed).
pub fn editable_type(kind: FieldType) -> bool {
    crate::routes::forms::fillable_on_page(kind)
}

/// 410 `share_gone` with its reason.
pub fn gone(reason: &'static str) -> ApiError {
    ApiError::new(
        ErrorCode::ShareGone,
        format!("this link is no longer valid: it was {reason}"),
    )
    .with("reason", reason)
}

fn limited(state: &AppState, kind: &str, token: &str, peer: IpAddr, limit: &str) -> ApiResult<()> {
    crate::rate_limit::visitor_limit(
        state.limiter(),
        &format!("{kind}:{token}:{peer}"),
        limit,
        "requests",
    )
}

/// The access of the member who made the link (full for a link made by an organization token); `None`
/// when that member has left the organization, which ends their links.
async fn maker_access(
    tenant: &tenon_store::Tenant<'_>,
    share: &Share,
    schema: &TableSchema,
) -> ApiResult<Option<(Access, Option<String>)>> {
    let Some(id) = share.created_by else {
        return Ok(Some((Access::full(), None)));
    };
    let name = match tenant.member(id).await {
        Ok(member) if member.status == tenon_model::MemberStatus::Active => member.name.to_string(),
        Ok(_) | Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let maker = Actor::Member {
        id,
        name: String::new(),
    };
    let access = Access::load(tenant, &maker, schema).await?;
    Ok(Some((access, Some(name))))
}

/// Whether `access` allows `action` on the record by its row rule.
async fn row_allows(
    state: &AppState,
    tenant: &tenon_store::Tenant<'_>,
    access: &Access,
    action: RecordAction,
    schema: &TableSchema,
    organization: &Organization,
    record: tenon_model::RecordId,
) -> ApiResult<bool> {
    if !access.table.rows(action).granted() {
        return Ok(false);
    }
    let context = crate::service::records::filter_context(state, organization);
    Ok(match access.filter(action, schema, &context)? {
        Some(rule) => !tenant
            .records_within(
                schema,
                &[record],
                Some(&rule),
                tenon_store::MissingRecord::Within,
            )
            .await?
            .is_empty(),
        None => true,
    })
}

/// Opens the link behind `token` (404 when there is none; 410 when it is revoked or expired or its
/// record is gone). `peer` counts against [`SHARE_READ_LIMIT`].
pub async fn open(state: &AppState, token: &str, peer: IpAddr) -> ApiResult<OpenShare> {
    limited(state, "share", token, peer, SHARE_READ_LIMIT)?;
    let digest = tenon_auth::SecretDigest::of(token);
    let share = state
        .store()
        .share_by_digest(digest.as_bytes())
        .await?
        .ok_or_else(|| ApiError::not_found("share"))?;
    if let Some(reason) = share.gone_at(state.store().now()) {
        return Err(gone(reason));
    }
    let tenant = state.store().tenant(share.org_id);
    let schema = match tenant.table_schema_by_id(share.table_id).await {
        Ok(schema) => schema,
        Err(StoreError::NotFound { .. }) => return Err(gone("deleted")),
        Err(error) => return Err(error.into()),
    };
    let record = match tenant.record(&schema, share.record_id).await {
        Ok(record) => record,
        Err(StoreError::NotFound { .. }) => return Err(gone("deleted")),
        Err(error) => return Err(error.into()),
    };
    let organization = tenant.organization().await?;
    let Some((access, shared_by)) = maker_access(&tenant, &share, &schema).await? else {
        return Err(gone("revoked"));
    };
    let readable = row_allows(
        state,
        &tenant,
        &access,
        RecordAction::Read,
        &schema,
        &organization,
        record.id,
    )
    .await?;
    if !readable {
        return Err(gone("revoked"));
    }
    let may_update = share.mode == ShareMode::Edit
        && row_allows(
            state,
            &tenant,
            &access,
            RecordAction::Update,
            &schema,
            &organization,
            record.id,
        )
        .await?;
    let fields = share
        .fields
        .iter()
        .filter_map(|id| schema.field(*id))
        .filter(|field| !access.table.is_hidden(field.id))
        .map(|field| SharedField {
            editable: may_update
                && editable_type(field.field_type())
                && !access.table.read_only.contains(&field.id),
            field: field.clone(),
        })
        .collect();
    Ok(OpenShare {
        share,
        schema,
        organization,
        record,
        fields,
        access,
        shared_by,
    })
}

/// The language of the organization behind a token, even when its link no longer opens (for the page
/// saying so); `None` for an unknown token.
pub async fn locale_of(state: &AppState, token: &str) -> Option<tenon_model::Locale> {
    let digest = tenon_auth::SecretDigest::of(token);
    let share = state
        .store()
        .share_by_digest(digest.as_bytes())
        .await
        .ok()??;
    let organization = state
        .store()
        .tenant(share.org_id)
        .organization()
        .await
        .ok()?;
    Some(organization.locale)
}

/// Who a visitor through a link is in the audit log, events and the record's `modified_by`: the link
/// (`{"type": "share", "id": <the link's id>, "name": "share link"}`, the name in the organization's
/// language), never its maker.
pub fn visitor_actor(share: &Share, organization: &Organization) -> Actor {
    let name = match organization.locale {
        tenon_model::Locale::ZhCn => "分享链接",
        tenon_model::Locale::En => "share link",
    };
    Actor::Share {
        id: share.id,
        name: name.to_owned(),
    }
}

/// The audit context of a visitor's use: the link acting, the request named.
fn visitor_context(open: &OpenShare) -> WriteContext {
    WriteContext {
        actor: visitor_actor(&open.share, &open.organization),
        request_id: Some(crate::request_id::current()),
    }
}

/// Records a read of the link (`share.used`).
pub async fn audit_read(state: &AppState, open: &OpenShare) -> ApiResult<()> {
    state
        .store()
        .tenant(open.share.org_id)
        .share_used(&visitor_context(open), &open.share, "read", &[])
        .await?;
    Ok(())
}

/// The link as JSON: `{"id", "mode", "expires_at", "fields": [{"key", "name", "type", "editable"}],
/// "record": {"id", "version", "created_at", "modified_at", "fields"}}` with only the link's fields.
pub async fn render(state: &AppState, open: &OpenShare) -> ApiResult<Value> {
    let ids = open.field_ids();
    let context = RenderContext::load(
        state.store(),
        open.share.org_id,
        &open.schema,
        std::slice::from_ref(&open.record),
        KeyBy::Key,
        &[],
    )
    .await?;
    let record = context.record(&open.schema, &open.record, Some(ids.as_slice()));
    let fields: Vec<Value> = open
        .fields
        .iter()
        .map(|shared| {
            json!({
                "key": shared.field.key.as_str(),
                "name": shared.field.name.as_str(),
                "type": shared.field.field_type().as_str(),
                "editable": shared.editable,
            })
        })
        .collect();
    Ok(json!({
        "id": open.share.id.to_string(),
        "mode": open.share.mode.as_str(),
        "expires_at": open.share.expires_at,
        "fields": fields,
        "record": record,
    }))
}

/// Changes the record through an edit link: only the link's editable fields, checked like any write
/// (the maker's row rules before and after); audited as the record's change and as a use of the link.
/// Answers the record as it is now.
pub async fn edit(
    state: &AppState,
    open: &OpenShare,
    token: &str,
    peer: IpAddr,
    given: &Map<String, Value>,
) -> ApiResult<Record> {
    limited(state, "share-edit", token, peer, SHARE_EDIT_LIMIT)?;
    if open.share.mode != ShareMode::Edit {
        return Err(ApiError::new(
            ErrorCode::ActionForbidden,
            "this link opens the record read-only",
        )
        .with("action", RecordAction::Update.as_str()));
    }
    let mut values = Map::new();
    let mut errors = Vec::new();
    for (key, value) in given {
        match open
            .editable()
            .find(|shared| shared.field.key.as_str() == key)
        {
            Some(shared) => {
                values.insert(shared.field.key.to_string(), value.clone());
            }
            None => errors.push(FieldError::new(
                format!("fields.{key}"),
                DetailCode::UnknownField,
                "is not a field this link may change",
            )),
        }
    }
    let org = open.share.org_id;
    let parse = crate::routes::records_io::parse_context(state, org).await?;
    let cells =
        match parse_record_fields(&open.schema, &values, &parse, WriteMode::Update, "fields") {
            Ok(cells) if errors.is_empty() => cells,
            Ok(_) => return Err(tenon_model::Invalid(errors).into()),
            Err(mut problems) => {
                errors.append(&mut problems);
                return Err(tenon_model::Invalid(errors).into());
            }
        };
    if cells.is_empty() {
        return Ok(open.record.clone());
    }
    let tenant = state.store().tenant(org);
    let context = crate::service::records::filter_context(state, &open.organization);
    let guard = open
        .access
        .guard(RecordAction::Update, &open.schema, &context)?;
    open.access.require_writable(&open.schema, &cells)?;
    let written: Vec<FieldId> = cells.keys().copied().collect();
    let records = tenant
        .update_records_guarded(
            &visitor_context(open),
            &open.schema,
            vec![RecordUpdate {
                id: open.record.id,
                expected_version: None,
                cells,
            }],
            &guard,
        )
        .await
        .map_err(|error| crate::routes::records::record_problems(error, &open.schema, false))?;
    tenant
        .share_used(&visitor_context(open), &open.share, "edited", &written)
        .await?;
    records
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("record"))
}

/// When a new link expires: `expires_in_days` from `now` (default [`SHARE_DAYS_DEFAULT`]); a number of
/// days outside 1..=[`SHARE_DAYS_MAX`] is refused.
pub fn expiry(
    now: DateTime<Utc>,
    expires_in_days: Option<i64>,
) -> Result<DateTime<Utc>, FieldError> {
    let days = expires_in_days.unwrap_or(SHARE_DAYS_DEFAULT);
    if !(1..=SHARE_DAYS_MAX).contains(&days) {
        return Err(FieldError::new(
            "expires_in_days",
            DetailCode::OutOfRange,
            format!("must be between 1 and {SHARE_DAYS_MAX}"),
        )
        .with("min", 1)
        .with("max", SHARE_DAYS_MAX));
    }
    Ok(now + chrono::TimeDelta::days(days))
}
