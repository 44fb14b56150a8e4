//! Public forms, shared by the JSON API (`/api/v1/forms/{slug}`) and the browser page (`/f/{slug}`,
//! `tenon-web`): one code path loads a form and takes a submission, so both check the same things in
//! the same order — the visitor's rate limit, the proof of work (page only), the form's fields, the
//! form's daily cap — and write nothing when any check fails.

use std::net::IpAddr;

use axum::http::{HeaderValue, header};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tenon_model::apps::input::{WriteMode, parse_record_fields};
use tenon_model::apps::permissions::RecordAction;
use tenon_model::apps::view::{View, form_upsert_keys};
use tenon_model::apps::{CellValue, Field, FieldKind, FieldType, Record, TableSchema};
use tenon_model::{Actor, AttachmentId, DetailCode, ErrorCode, FieldError, FieldId, Organization};
use tenon_store::{FormGuard, FormWrite, FormWritten, WriteContext};

use crate::error::{ApiError, ApiResult};
use crate::routes::form_subtables::{self, FormSubtable};
use crate::service::access::{Access, member_of};
use crate::state::AppState;

/// Submissions one visitor (address) may make to one public form.
pub const PUBLIC_FORM_LIMIT: &str = "10/min,burst=20";

/// The stricter limit for page submissions without a proof of work (JavaScript off): they also count
/// against [`PUBLIC_FORM_LIMIT`].
pub const NO_PROOF_LIMIT: &str = "3/min,burst=5";

/// The default thank-you when the form sets no `success_message`.
pub const DEFAULT_SUCCESS: &str = "Thank you, your submission was received.";

/// A field as the form shows it.
#[derive(Debug, Clone)]
pub struct FormField {
    pub field: Field,
    /// The form's label for the field, else the field's name.
    pub label: String,
    pub help: Option<String>,
    pub required: bool,
    /// Not shown; the record gets `default` (or, with `prefill`, the link's value).
    pub hidden: bool,
    pub default: Option<Value>,
    /// The link may give the value as a URL parameter named by the field's key (`?channel=wechat`): a
    /// shown field starts with it, a hidden one is fixed by it.
    pub prefill: bool,
}

/// A public form with what a submission needs.
#[derive(Debug, Clone)]
pub struct PublicForm {
    pub slug: String,
    pub view: View,
    pub schema: TableSchema,
    pub organization: Organization,
    pub fields: Vec<FormField>,
    /// The form's sub-tables (a master–detail form): rows of linked tables created with the record.
    pub subtables: Vec<FormSubtable>,
}

impl PublicForm {
    fn text(&self, key: &str) -> Option<String> {
        self.view
            .config
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
            .map(str::to_owned)
    }

    /// The title (the view's name unless the form sets one).
    pub fn title(&self) -> String {
        self.text("title")
            .unwrap_or_else(|| self.view.name.to_string())
    }

    pub fn description(&self) -> Option<String> {
        self.text("description")
    }

    pub fn submit_label(&self) -> Option<String> {
        self.text("submit_label")
    }

    pub fn success_message(&self) -> Option<String> {
        self.text("success_message")
    }

    /// The owner's cap on submissions per day (the organization's calendar day).
    pub fn daily_limit(&self) -> Option<i64> {
        self.view
            .config
            .get("daily_limit")
            .and_then(Value::as_i64)
            .filter(|limit| *limit > 0)
    }

    /// Only the organization's members, logged in, may fill it in (the page records who submitted; the
    /// anonymous JSON API does not know it).
    pub fn members_only(&self) -> bool {
        self.view
            .config
            .get("members_only")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A returning visitor's submission updates her row (matched by a unique key on the form) instead
    /// of creating a duplicate.
    pub fn upsert(&self) -> bool {
        self.view
            .config
            .get("upsert")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The fields a visitor fills in.
    pub fn visible(&self) -> impl Iterator<Item = &FormField> {
        self.fields.iter().filter(|field| !field.hidden)
    }

    /// The fields a submission may give: the visible ones and those the link may prefill.
    pub fn accepted(&self) -> impl Iterator<Item = &FormField> {
        self.fields
            .iter()
            .filter(|field| !field.hidden || field.prefill)
    }

    /// The accepted field `reference` (a key, name or id) names.
    pub fn accepted_field(&self, reference: &str) -> Option<&FormField> {
        self.accepted().find(|entry| {
            entry.field.key.as_str() == reference
                || entry.field.name.as_str() == reference
                || entry.field.id.to_string() == reference
        })
    }
}

/// The form's field entries, resolved against the table (entries naming deleted fields are skipped).
pub fn form_fields(view: &View, schema: &TableSchema) -> Vec<FormField> {
    let entries = view
        .config
        .get("fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<FormField> = Vec::new();
    for entry in &entries {
        let (reference, object) = match entry {
            Value::String(key) => (key.clone(), Map::new()),
            Value::Object(object) => (
                object
                    .get("field")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                object.clone(),
            ),
            _ => continue,
        };
        let Some(field) = schema.resolve_field(&reference) else {
            continue;
        };
        // A sub-table is not a field to fill in: see `form_subtables`.
        if object.contains_key("subtable") {
            continue;
        }
        if out.iter().any(|known| known.field.id == field.id) {
            continue;
        }
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.trim().is_empty())
                .map(str::to_owned)
        };
        let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
        let hidden = flag("hidden");
        out.push(FormField {
            label: text("label").unwrap_or_else(|| field.name.to_string()),
            help: text("help"),
            required: !hidden && (flag("required") || field.required),
            hidden,
            prefill: flag("prefill"),
            default: object
                .get("default")
                .filter(|value| !value.is_null())
                .cloned(),
            field: field.clone(),
        });
    }
    out
}

/// The public form behind a slug for the anonymous JSON API: a members-only form is not there (404).
pub async fn load_anonymous(state: &AppState, slug: &str) -> ApiResult<PublicForm> {
    let form = load(state, slug).await?;
    if form.members_only() {
        return Err(ApiError::not_found("form"));
    }
    Ok(form)
}

/// The public form behind a slug (404 when there is none, or it is not public any more).
pub async fn load(state: &AppState, slug: &str) -> ApiResult<PublicForm> {
    let (org, view) = state.store().public_form(slug).await?;
    let tenant = state.store().tenant(org);
    let schema = tenant.table_schema_by_id(view.table_id).await?;
    let organization = tenant.organization().await?;
    let fields = form_fields(&view, &schema);
    let subtables = crate::routes::form_subtables::load(&tenant, &view, &schema).await?;
    Ok(PublicForm {
        slug: slug.to_owned(),
        view,
        schema,
        organization,
        fields,
        subtables,
    })
}

/// Where a submission comes from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// The JSON API: scripts; the per-address limit only.
    Api,
    /// The page: with the proof of work its script solved, or without (JavaScript off), which also
    /// counts against [`NO_PROOF_LIMIT`].
    Page { proof: Option<String> },
}

/// A submission taken.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The record written (`None`: the honeypot was filled and nothing was written).
    pub id: Option<String>,
    /// The success text, its placeholders filled from the record.
    pub message: String,
    /// With `upsert`: the visitor's existing row was changed instead of a new one created.
    pub updated: bool,
}

/// Counts a visitor's `kind` of request to the form from `peer` against `limit`.
fn limited(state: &AppState, kind: &str, slug: &str, peer: IpAddr, limit: &str) -> ApiResult<()> {
    crate::rate_limit::visitor_limit(
        state.limiter(),
        &format!("{kind}:{slug}:{peer}"),
        limit,
        "submissions",
    )
}

/// The per-address limit on a form's uploads ([`crate::routes::form_uploads::FORM_UPLOAD_LIMIT`]).
pub fn limited_upload(state: &AppState, form: &PublicForm, peer: IpAddr) -> ApiResult<()> {
    limited(
        state,
        "form-upload",
        &form.slug,
        peer,
        crate::routes::form_uploads::FORM_UPLOAD_LIMIT,
    )
}

/// The organization's calendar day at `now`, and the seconds until it ends.
fn day_of(organization: &Organization, now: DateTime<Utc>) -> (String, u64) {
    let local = now.with_timezone(&organization.time_zone.tz());
    let day = local.date_naive();
    let next = day
        .succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .and_then(|midnight| {
            midnight
                .and_local_timezone(organization.time_zone.tz())
                .earliest()
        })
        .map_or(3600, |midnight| {
            u64::try_from((midnight.with_timezone(&Utc) - now).num_seconds().max(1)).unwrap_or(1)
        });
    (day.format("%Y-%m-%d").to_string(), next)
}

/// Checks the submitted values against the form: only its visible fields, the required ones given;
/// hidden fields get their defaults. Keys may be field keys or names; the answer is keyed by field key.
fn checked_values(
    form: &PublicForm,
    given: &Map<String, Value>,
) -> (Map<String, Value>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut values = Map::new();
    for (key, value) in given {
        match form.accepted_field(key) {
            Some(entry) if entry.hidden => {
                let blank = match value {
                    Value::Null => true,
                    Value::String(text) => text.trim().is_empty(),
                    _ => false,
                };
                if !blank {
                    values.insert(entry.field.key.to_string(), typed_default(entry, value));
                }
            }
            Some(entry) => {
                values.insert(entry.field.key.to_string(), value.clone());
            }
            None => errors.push(FieldError::new(
                format!("fields.{key}"),
                DetailCode::UnknownField,
                "is not a field of this form",
            )),
        }
    }
    for entry in form.visible() {
        let given = values
            .get(entry.field.key.as_str())
            .is_some_and(|value| match value {
                Value::Null => false,
                Value::String(text) => !text.trim().is_empty(),
                Value::Array(items) => !items.is_empty(),
                _ => true,
            });
        if entry.required && !given {
            errors.push(FieldError::new(
                format!("fields.{}", entry.field.key),
                DetailCode::Required,
                "is required",
            ));
        }
    }
    for entry in form.fields.iter().filter(|entry| entry.hidden) {
        if values.contains_key(entry.field.key.as_str()) {
            continue;
        }
        if let Some(default) = &entry.default {
            values.insert(entry.field.key.to_string(), typed_default(entry, default));
        }
    }
    (values, errors)
}

/// A hidden field's default as the designer stores it (text) in the shape its type takes: a tick for a
/// checkbox, a whole number for a rating, a list (comma-separated) for a multi-select.
fn typed_default(entry: &FormField, default: &Value) -> Value {
    let Value::String(text) = default else {
        return default.clone();
    };
    let text = text.trim();
    match entry.field.field_type() {
        FieldType::Checkbox => Value::Bool(matches!(
            text.to_lowercase().as_str(),
            "true" | "1" | "yes" | "是"
        )),
        FieldType::Rating => text
            .parse::<i64>()
            .map_or_else(|_| default.clone(), Value::from),
        FieldType::MultiSelect => Value::Array(
            text.split([',', '，'])
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .map(|part| Value::String(part.to_owned()))
                .collect(),
        ),
        _ => default.clone(),
    }
}

/// One submission as the page or the JSON API received it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The values by field key, name or id: the visible fields and those the link may prefill.
    pub given: Map<String, Value>,
    pub origin: Origin,
    /// The member submitting a members-only form.
    pub actor: Option<Actor>,
    /// The page's trap field was filled (a bot): the answer looks like success, nothing is written.
    pub honeypot: bool,
    /// The page's one-time submission key: the files it gives must have been uploaded with it.
    pub key: Option<String>,
}

/// Takes one submission: checks in order, writes one record (or, with `upsert`, changes the visitor's
/// own row) or nothing.
pub async fn submit(
    state: &AppState,
    form: &PublicForm,
    peer: IpAddr,
    submission: Submission,
) -> ApiResult<Submitted> {
    limited(state, "form", &form.slug, peer, PUBLIC_FORM_LIMIT)?;
    if let Origin::Page { proof } = &submission.origin {
        match proof.as_deref().filter(|proof| !proof.trim().is_empty()) {
            Some(proof) => {
                let store = state.store();
                let refused = |refusal: crate::pow::Refusal| {
                    ApiError::validation(tenon_model::Invalid(vec![FieldError::new(
                        "altcha",
                        DetailCode::InvalidValue,
                        refusal.as_str(),
                    )]))
                };
                let solved = crate::pow::verify(proof, store.now(), &crate::pow::key(store))
                    .map_err(refused)?;
                if !store
                    .spend_challenge(&solved.challenge, solved.expires)
                    .await?
                {
                    return Err(refused(crate::pow::Refusal::Replayed));
                }
            }
            None => limited(state, "form-no-proof", &form.slug, peer, NO_PROOF_LIMIT)?,
        }
    }
    let message = form
        .success_message()
        .unwrap_or_else(|| DEFAULT_SUCCESS.to_owned());
    let mut given = submission.given.clone();
    let (rows, row_errors) = form_subtables::take_rows(&form.subtables, &mut given);
    let (mut values, mut errors) = checked_values(form, &given);
    errors.extend(row_errors);
    let org = form.organization.id;
    let tenant = state.store().tenant(org);
    errors.extend(linked_by_label(&tenant, form, &mut values).await?);
    let parse = crate::routes::records_io::parse_context(state, org).await?;
    let context = crate::service::records::filter_context(state, &form.organization);
    let (details, row_errors) = form_subtables::parse_rows(
        &tenant,
        &form.subtables,
        rows,
        &parse,
        submission.actor.as_ref(),
        &context,
    )
    .await?;
    errors.extend(row_errors);
    // Every problem at once: the form's own checks, then each value's.
    let cells =
        match parse_record_fields(&form.schema, &values, &parse, WriteMode::Create, "fields") {
            Ok(cells) if errors.is_empty() => cells,
            Ok(_) => return Err(tenon_model::Invalid(errors).into()),
            Err(mut problems) => {
                problems.retain(|problem| !errors.iter().any(|known| known.field == problem.field));
                errors.append(&mut problems);
                return Err(tenon_model::Invalid(errors).into());
            }
        };
    let guard = member_guard(&tenant, form, submission.actor.as_ref(), &given, &context).await?;
    if submission.honeypot {
        return Ok(Submitted {
            id: None,
            message: fill_placeholders(&message, form, None),
            updated: false,
        });
    }
    let uploads = uploads_of(form, &submission.given, &cells);
    let slot = match form.daily_limit() {
        Some(cap) => {
            let (day, until_midnight) = day_of(&form.organization, state.store().now());
            if !tenant.take_form_slot(form.view.id, &day, cap).await? {
                return Err(ApiError::new(
                    ErrorCode::RateLimited,
                    format!("this form takes at most {cap} submissions a day; try again tomorrow"),
                )
                .with("retry_after", until_midnight)
                .with_header(header::RETRY_AFTER, HeaderValue::from(until_midnight))
                .with_detail(
                    FieldError::new(
                        "daily_limit",
                        DetailCode::LimitReached,
                        format!("the limit of {cap} submissions a day is reached"),
                    )
                    .with("max", cap),
                ));
            }
            Some(day)
        }
        None => None,
    };
    let ctx = WriteContext {
        actor: submission.actor.unwrap_or(Actor::System),
        request_id: Some(crate::request_id::current()),
    };
    let form_fields: Vec<FieldId> = form.fields.iter().map(|entry| entry.field.id).collect();
    let write = FormWrite {
        view: form.view.id,
        upsert_keys: if form.upsert() {
            form_upsert_keys(&form.schema, &form_fields)
        } else {
            Vec::new()
        },
        form_fields,
        cells,
        uploads,
        submission: submission.key.as_deref().map(submission_hash),
        details,
        guard,
    };
    let written = match tenant
        .write_form_submission(&ctx, &form.schema, write, parse.org_time_zone)
        .await
    {
        Ok(written) => written,
        Err(error) => {
            if let Some(day) = &slot {
                let _ = tenant.release_form_slot(form.view.id, day).await;
            }
            return Err(crate::routes::records::record_problems(
                error,
                &form.schema,
                false,
            ));
        }
    };
    Ok(Submitted {
        id: Some(written.record().id.to_string()),
        message: fill_placeholders(&message, form, Some(written.record())),
        updated: matches!(written, FormWritten::Updated(_)),
    })
}

/// A member's app role on the form's own table (a members-only form; the sub-tables' are checked
/// with their rows): 403 without the create action or when she gave a value to a read-only field; her row
/// rules go with the write, checked in its transaction. `None` for a visitor: a public form is its
/// own grant.
async fn member_guard(
    tenant: &tenon_store::Tenant<'_>,
    form: &PublicForm,
    actor: Option<&Actor>,
    given: &Map<String, Value>,
    context: &tenon_model::apps::filter::FilterContext,
) -> ApiResult<Option<FormGuard>> {
    let Some(actor) = actor.filter(|actor| member_of(actor).is_some()) else {
        return Ok(None);
    };
    let access = Access::load(tenant, actor, &form.schema).await?;
    let create = access
        .guard(RecordAction::Create, &form.schema, context)?
        .after;
    // Only the values she (or her link) gave: a hidden field's default is not hers, nor a blank input.
    let filled: std::collections::BTreeMap<FieldId, ()> = given
        .iter()
        .filter(|(_, value)| match value {
            Value::Null => false,
            Value::String(text) => !text.trim().is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => true,
        })
        .filter_map(|(key, _)| form.accepted_field(key))
        .map(|entry| (entry.field.id, ()))
        .collect();
    access.require_writable(&form.schema, &filled)?;
    let update = if form.upsert() && access.require(RecordAction::Update).is_ok() {
        Some(access.guard(RecordAction::Update, &form.schema, context)?)
    } else {
        None
    };
    Ok(Some(FormGuard { create, update }))
}

/// The SHA-256 (hex) of a page's submission key, as uploads are bound to it.
pub fn submission_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The files a submission gives, by field: every id in an attachment field the visitor sent (a
/// hidden field's default files are the owner's and need no upload).
fn uploads_of(
    form: &PublicForm,
    given: &Map<String, Value>,
    cells: &std::collections::BTreeMap<FieldId, Option<CellValue>>,
) -> Vec<(FieldId, AttachmentId)> {
    let mut uploads = Vec::new();
    for entry in form.accepted() {
        if !matches!(entry.field.kind, FieldKind::Attachment { .. }) {
            continue;
        }
        let sent = given.keys().any(|key| {
            form.accepted_field(key)
                .is_some_and(|found| found.field.id == entry.field.id)
        });
        if let (true, Some(Some(CellValue::Ids(ids)))) = (sent, cells.get(&entry.field.id)) {
            uploads.extend(
                ids.iter()
                    .map(|id| (entry.field.id, AttachmentId::from_uuid(*id))),
            );
        }
    }
    uploads
}

/// A link's value given as the linked record's primary value (a room fixed by the link: `?room=201`)
/// becomes its id. The answer never names other records (no candidates), so the linked table stays
/// unseen.
async fn linked_by_label(
    tenant: &tenon_store::Tenant<'_>,
    form: &PublicForm,
    values: &mut Map<String, Value>,
) -> ApiResult<Vec<FieldError>> {
    let mut links: Map<String, Value> = values
        .iter()
        .filter(|(key, _)| {
            form.schema
                .resolve_field(key)
                .is_some_and(|field| matches!(field.kind, FieldKind::Link { .. }))
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let problems =
        tenon_exchange::typecast::typecast(tenant, &form.schema, &mut [&mut links], |_| {
            "fields".to_owned()
        })
        .await?;
    let mut errors: Vec<FieldError> = Vec::new();
    for problem in problems {
        let field = problem
            .field
            .split('[')
            .next()
            .unwrap_or(&problem.field)
            .to_owned();
        if !errors.iter().any(|known| known.field == field) {
            errors.push(FieldError::new(
                field,
                DetailCode::NoMatch,
                "the value names no single record",
            ));
        }
    }
    values.extend(links);
    Ok(errors)
}

/// The success text with `{field}` placeholders (a field's name or key) replaced by the written
/// record's values — `{编号}` names the new record's number. Unknown names stay as they are; without a
/// record (the honeypot) they are left out.
pub fn fill_placeholders(message: &str, form: &PublicForm, record: Option<&Record>) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let reference = &after[..close];
        match form.schema.resolve_field(reference.trim()) {
            Some(field) => {
                if let Some(cell) = record.and_then(|record| record.cells.get(&field.id)) {
                    out.push_str(&cell_text(cell, &form.organization));
                }
            }
            None => {
                out.push('{');
                out.push_str(reference);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A value as a person reads it in a sentence (ids of links, members and files are not shown).
fn cell_text(cell: &CellValue, organization: &Organization) -> String {
    match cell {
        CellValue::Text(text) => text.clone(),
        CellValue::Decimal(number) => number.normalize().to_string(),
        CellValue::Integer(number) => number.to_string(),
        CellValue::Bool(true) => "✓".to_owned(),
        CellValue::Bool(false) => String::new(),
        CellValue::Date(date) => date.format("%Y-%m-%d").to_string(),
        CellValue::DateTime(at) => at
            .with_timezone(&organization.time_zone.tz())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        CellValue::Names(names) => names.join(", "),
        CellValue::Ids(_) => String::new(),
    }
}

/// Whether a field type can be filled in on the public page (pickers of members, departments and
/// linked records would show an outsider the organization's data; a link may still be fixed by the
/// form's link, see `prefill`). Files are uploaded with the submission.
pub fn fillable_on_page(kind: FieldType) -> bool {
    matches!(
        kind,
        FieldType::Text
            | FieldType::LongText
            | FieldType::Number
            | FieldType::Currency
            | FieldType::Percent
            | FieldType::Date
            | FieldType::DateTime
            | FieldType::Duration
            | FieldType::Checkbox
            | FieldType::SingleSelect
            | FieldType::MultiSelect
            | FieldType::Rating
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Attachment
    )
}
