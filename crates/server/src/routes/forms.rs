//! Public forms, shared by the JSON API (`/api/v1/forms/{slug}`) and the browser page (`/f/{slug}`,
//! `tenon-web`): one code path loads a form and takes a submission, so both check the same things in
//! the same order — the visitor's rate limit, the proof of work (page only), the form's fields, the
//! form's daily cap — and write nothing when any check fails.

use std::net::IpAddr;

use axum::http::{HeaderValue, header};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
use tenon_model::apps::view::View;
use tenon_model::apps::{Field, FieldType, TableSchema};
use tenon_model::{Actor, DetailCode, ErrorCode, FieldError, Organization, RateLimit};
use tenon_store::{WriteContext, WriteOutcome};

use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Decision;
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
    /// Not shown; the record gets `default`.
    pub hidden: bool,
    pub default: Option<Value>,
}

/// A public form with what a submission needs.
#[derive(Debug, Clone)]
pub struct PublicForm {
    pub slug: String,
    pub view: View,
    pub schema: TableSchema,
    pub organization: Organization,
    pub fields: Vec<FormField>,
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

    /// The fields a visitor fills in.
    pub fn visible(&self) -> impl Iterator<Item = &FormField> {
        self.fields.iter().filter(|field| !field.hidden)
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
    Ok(PublicForm {
        slug: slug.to_owned(),
        view,
        schema,
        organization,
        fields,
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
    /// The record created (`None`: the honeypot was filled and nothing was written).
    pub id: Option<String>,
    pub message: String,
}

fn visitor_bucket(kind: &str, slug: &str, peer: IpAddr) -> uuid::Uuid {
    let key: [u8; 32] = Sha256::digest(format!("{kind}:{slug}:{peer}")).into();
    let mut bucket = [0u8; 16];
    bucket.copy_from_slice(&key[..16]);
    uuid::Uuid::from_bytes(bucket)
}

fn limited(state: &AppState, bucket: uuid::Uuid, limit: &str) -> ApiResult<()> {
    let limit = RateLimit::parse(limit).unwrap_or(RateLimit::Off);
    if let Decision::Limited {
        retry_after_seconds,
        ..
    } = state.limiter().check(bucket, limit)
    {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many submissions; retry after {retry_after_seconds} s"),
        )
        .with("retry_after", retry_after_seconds)
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds)));
    }
    Ok(())
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
        match form.visible().find(|entry| {
            entry.field.key.as_str() == key
                || entry.field.name.as_str() == key
                || entry.field.id.to_string() == *key
        }) {
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

/// Takes one submission: checks in order, writes one record or nothing. `honeypot`: the page's trap
/// field was filled (a bot) — the answer looks like success, nothing is written.
pub async fn submit(
    state: &AppState,
    form: &PublicForm,
    peer: IpAddr,
    given: &Map<String, Value>,
    origin: Origin,
    actor: Option<Actor>,
    honeypot: bool,
) -> ApiResult<Submitted> {
    limited(
        state,
        visitor_bucket("form", &form.slug, peer),
        PUBLIC_FORM_LIMIT,
    )?;
    if let Origin::Page { proof } = &origin {
        match proof.as_deref().filter(|proof| !proof.trim().is_empty()) {
            Some(proof) => {
                if let Err(refusal) = crate::pow::verify(proof, state.store().now()) {
                    return Err(ApiError::validation(tenon_model::Invalid(vec![
                        FieldError::new("altcha", DetailCode::InvalidValue, refusal.as_str()),
                    ])));
                }
            }
            None => limited(
                state,
                visitor_bucket("form-no-proof", &form.slug, peer),
                NO_PROOF_LIMIT,
            )?,
        }
    }
    let message = form
        .success_message()
        .unwrap_or_else(|| DEFAULT_SUCCESS.to_owned());
    let (values, mut errors) = checked_values(form, given);
    let org = form.organization.id;
    let parse = crate::routes::records_io::parse_context(state, org).await?;
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
    if honeypot {
        return Ok(Submitted { id: None, message });
    }
    let tenant = state.store().tenant(org);
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
        actor: actor.unwrap_or(Actor::System),
        request_id: Some(crate::request_id::current()),
    };
    let outcome = tenant
        .create_records(
            &ctx,
            &form.schema,
            vec![present(cells)],
            parse.org_time_zone,
            None,
        )
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            if let Some(day) = &slot {
                let _ = tenant.release_form_slot(form.view.id, day).await;
            }
            return Err(error.into());
        }
    };
    let id = match outcome {
        WriteOutcome::Written(records) | WriteOutcome::Replayed(records) => {
            records.first().map(|record| record.id.to_string())
        }
    };
    Ok(Submitted { id, message })
}

/// Whether a field type can be filled in on the public page (pickers of members, departments and
/// linked records would show an outsider the organization's data; files need an upload).
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
    )
}
