//! App permissions on the records paths (issue #19): what the request's member may do with a table,
//! computed once per request (the member, their departments and roles, the app's document: four small
//! queries, and none when the app has no permissions), then applied as filters compiled to SQL.
//!
//! Who is limited: a member through a session, or a token acting for a member (the member's permissions
//! on top of the token's scopes). Owners and admins, organization tokens, app installations, flows and
//! the platform are not limited.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tenon_model::apps::filter::{Filter, FilterContext, SortKey};
use tenon_model::apps::permissions::{PermissionsDoc, Person, RecordAction, Rows, TableAccess};
use tenon_model::apps::{FieldKind, LinkTarget, TableSchema};
use tenon_model::{Actor, AttachmentId, ErrorCode, FieldId, MemberId, Role};
use tenon_store::{RowGuard, Tenant};

use crate::error::{ApiError, ApiResult};
use crate::routes::records_io::ExpandSight;

/// What the request may do with one table. Cheap to clone: a member's is resolved once per node and
/// kept until what it is made of changes ([`Tenant::resolved_access`]).
#[derive(Debug, Clone)]
pub struct Access {
    pub table: Arc<TableAccess>,
    /// `None` when the request is not limited.
    pub person: Option<Arc<Person>>,
    /// The row rules lowered to filters, per action in [`RecordAction::ALL`] order, once asked for
    /// (they depend on the table and the person only).
    lowered: Arc<[OnceLock<Option<Value>>; 5]>,
}

/// The member a request's permissions are those of, if any.
pub fn member_of(actor: &Actor) -> Option<MemberId> {
    match actor {
        Actor::Member { id, .. } => Some(*id),
        Actor::Token {
            member_id: Some(id),
            ..
        } => Some(*id),
        _ => None,
    }
}

impl Access {
    pub fn full() -> Access {
        Access::new(TableAccess::full(), None)
    }

    pub fn new(table: TableAccess, person: Option<Arc<Person>>) -> Access {
        Access {
            table: Arc::new(table),
            person,
            lowered: Arc::default(),
        }
    }

    /// The access of `actor` to `schema`'s table.
    pub async fn load(
        tenant: &Tenant<'_>,
        actor: &Actor,
        schema: &TableSchema,
    ) -> ApiResult<Access> {
        let Some(member) = member_of(actor) else {
            return Ok(Access::full());
        };
        // Resolved once per node and member and table, until what it is made of changes.
        let generation = tenant.resolved_access_generation();
        if let Some(kept) = tenant
            .resolved_access(member, schema.table.id)
            .and_then(|kept| kept.downcast::<Access>().ok())
        {
            return Ok((*kept).clone());
        }
        let access = Access::resolve(tenant, member, schema).await?;
        tenant.keep_resolved_access(
            member,
            schema.table.id,
            Arc::new(access.clone()),
            generation,
        );
        Ok(access)
    }

    async fn resolve(
        tenant: &Tenant<'_>,
        member: MemberId,
        schema: &TableSchema,
    ) -> ApiResult<Access> {
        // Both from this node's caches when they can (no statement on a warm node).
        let Some(document) = tenant.app_permissions_doc(schema.app.id).await? else {
            return Ok(Access::full());
        };
        let subject = tenant.permission_subject(member).await?;
        if matches!(subject.role, Role::Owner | Role::Admin) {
            return Ok(Access::full());
        }
        let linked = tenant.looked_up_schemas(schema).await?;
        Ok(Access::resolved(&document, schema, &linked, subject.person))
    }

    /// The access `person` (a plain member) has under `document`; `linked` holds the tables the
    /// lookups and rollups read ([`Tenant::looked_up_schemas`]), so that a computed field revealing a
    /// field hidden from the person is hidden too.
    pub fn of(
        document: &Value,
        schema: &TableSchema,
        linked: &[TableSchema],
        person: Arc<Person>,
    ) -> Access {
        // Stored documents were checked when saved; one that no longer reads grants nothing.
        let doc = PermissionsDoc::parse(document).unwrap_or_default();
        Access::resolved(&doc, schema, linked, person)
    }

    /// [`Access::of`] with the document already parsed.
    pub fn resolved(
        doc: &PermissionsDoc,
        schema: &TableSchema,
        linked: &[TableSchema],
        person: Arc<Person>,
    ) -> Access {
        let table = TableAccess::resolve_with_readers(doc, schema, linked, &person);
        Access::new(table, Some(person))
    }

    /// 403 `action_forbidden` unless the action is granted.
    pub fn require(&self, action: RecordAction) -> ApiResult<()> {
        if self.table.rows(action).granted() {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::ActionForbidden,
                format!(
                    "your app role does not allow {} on this table",
                    action.as_str()
                ),
            )
            .with("action", action.as_str()))
        }
    }

    /// The rows the action is allowed on, as a checked filter (`None`: every row).
    pub fn filter(
        &self,
        action: RecordAction,
        schema: &TableSchema,
        context: &FilterContext,
    ) -> ApiResult<Option<Filter>> {
        let Some(person) = &self.person else {
            return Ok(None);
        };
        let rows = self.table.rows(action);
        if *rows == Rows::All {
            return Ok(None);
        }
        let index = RecordAction::ALL
            .iter()
            .position(|candidate| *candidate == action)
            .unwrap_or(0);
        let json = match self.lowered[index].get() {
            Some(json) => json.clone(),
            None => {
                let json = rows.filter(schema, person).map_err(|error| {
                    ApiError::internal(
                        "a stored row rule no longer lowers",
                        &std::io::Error::other(error.message),
                    )
                })?;
                self.lowered[index].get_or_init(|| json).clone()
            }
        };
        json.map(|value| {
            Filter::parse(&value, schema, context).map_err(|error| {
                ApiError::internal(
                    "a stored row rule no longer checks",
                    &std::io::Error::other(error.reason),
                )
            })
        })
        .transpose()
    }

    /// The guard of a write: the rules of `action` before (update, delete) and after (create, update).
    pub fn guard(
        &self,
        action: RecordAction,
        schema: &TableSchema,
        context: &FilterContext,
    ) -> ApiResult<RowGuard> {
        self.require(action)?;
        let rows = self.filter(action, schema, context)?;
        Ok(match action {
            RecordAction::Create => RowGuard {
                before: None,
                after: rows,
            },
            RecordAction::Update => RowGuard {
                before: rows.clone(),
                after: rows,
            },
            _ => RowGuard {
                before: rows,
                after: None,
            },
        })
    }

    /// 403 `field_forbidden` when one of the fields is hidden.
    pub fn require_visible(
        &self,
        schema: &TableSchema,
        fields: impl IntoIterator<Item = FieldId>,
    ) -> ApiResult<()> {
        for field in fields {
            if self.table.is_hidden(field) {
                return Err(field_forbidden(schema, field));
            }
        }
        Ok(())
    }

    /// 403 `field_forbidden` when a written field is hidden or read-only.
    pub fn require_writable<'a, V: 'a>(
        &self,
        schema: &TableSchema,
        cells: impl IntoIterator<Item = (&'a FieldId, &'a V)>,
    ) -> ApiResult<()> {
        for (field, _) in cells {
            if self.table.read_only.contains(field) {
                return Err(field_forbidden(schema, *field));
            }
        }
        Ok(())
    }

    /// Checks what a list asks for (filter, sort, condition formula) against the hidden fields.
    pub fn check_query(
        &self,
        schema: &TableSchema,
        filter: Option<&Filter>,
        sort: &[SortKey],
        condition: Option<&str>,
    ) -> ApiResult<()> {
        if self.table.hidden.is_empty() {
            return Ok(());
        }
        let mut fields = Vec::new();
        if let Some(filter) = filter {
            filter_fields(filter, &mut fields);
        }
        fields.extend(sort.iter().map(|key| key.field.id));
        if let Some(stored) = condition {
            fields.extend(tenon_model::apps::computed::stored_references(stored));
        }
        self.require_visible(schema, fields)
    }

    /// The fields a reader sees, among `wanted` (all when `None`); `None` when nothing is hidden and
    /// nothing was asked for.
    pub fn visible(
        &self,
        schema: &TableSchema,
        wanted: Option<Vec<FieldId>>,
    ) -> Option<Vec<FieldId>> {
        if self.table.hidden.is_empty() {
            return wanted;
        }
        let all = wanted.unwrap_or_else(|| schema.fields.iter().map(|field| field.id).collect());
        Some(
            all.into_iter()
                .filter(|field| !self.table.is_hidden(*field))
                .collect(),
        )
    }
}

fn field_forbidden(schema: &TableSchema, field: FieldId) -> ApiError {
    let key = schema
        .field(field)
        .map_or_else(|| field.to_string(), |field| field.key.as_str().to_owned());
    ApiError::new(
        ErrorCode::FieldForbidden,
        format!("your app role does not allow this on the field {key}"),
    )
    .with("field", key)
}

/// Applies the request's read access to a list query: 403 when it filters or sorts by a hidden field,
/// the read rule ANDed to its filter, hidden fields left out.
pub async fn restrict_list(
    tenant: &Tenant<'_>,
    auth: &crate::auth::Authenticated,
    schema: &TableSchema,
    query: &mut tenon_store::RecordQuery,
    context: &FilterContext,
) -> ApiResult<Access> {
    let access = Access::load(tenant, &auth.principal.actor, schema).await?;
    access.require(RecordAction::Read)?;
    access.check_query(
        schema,
        query.filter.as_ref(),
        &query.sort,
        query.condition.as_deref(),
    )?;
    query.filter = both(
        query.filter.take(),
        access.filter(RecordAction::Read, schema, context)?,
    );
    query.fields = access.visible(schema, query.fields.take());
    Ok(access)
}

/// The read check of one record (403 `action_forbidden` or `row_forbidden`); answers the keys of the
/// fields hidden from the request.
pub async fn readable_record(
    state: &crate::state::AppState,
    tenant: &Tenant<'_>,
    auth: &crate::auth::Authenticated,
    schema: &TableSchema,
    id: tenon_model::RecordId,
) -> ApiResult<Vec<String>> {
    let access = Access::load(tenant, &auth.principal.actor, schema).await?;
    access.require(RecordAction::Read)?;
    let context = crate::service::records::filter_context(state, &tenant.organization().await?);
    if let Some(rule) = access.filter(RecordAction::Read, schema, &context)?
        && tenant
            .records_within(
                schema,
                &[id],
                Some(&rule),
                tenon_store::MissingRecord::Outside,
            )
            .await?
            .is_empty()
    {
        return Err(tenon_store::StoreError::RowForbidden {
            record: id.to_string(),
        }
        .into());
    }
    Ok(access
        .table
        .hidden
        .iter()
        .filter_map(|field| {
            schema
                .field(*field)
                .map(|field| field.key.as_str().to_owned())
        })
        .collect())
}

/// Whether the request may download the file `file` (issue #19: a hidden field's files are not
/// served). A member limited by an app's permissions is refused a file that a record of that app holds
/// in an attachment field hidden from her, in a table she may not read, or in a row her read rule
/// leaves out — even when another record she reads holds it too (a file is refused rather than shown
/// from a place she may not see). Files no limited place holds (a new upload, a file of an app without
/// permissions) are served as before. Unlimited requests ask nothing; a limited member's check reads
/// each attachment-holding table of the apps with permissions once (a scan of those tables).
pub async fn file_readable(
    state: &crate::state::AppState,
    tenant: &Tenant<'_>,
    auth: &crate::auth::Authenticated,
    file: AttachmentId,
) -> ApiResult<bool> {
    let Some(member) = member_of(&auth.principal.actor) else {
        return Ok(true);
    };
    let apps = tenant.permissioned_apps().await?;
    if apps.is_empty() {
        return Ok(true);
    }
    let subject = tenant.permission_subject(member).await?;
    if matches!(subject.role, Role::Owner | Role::Admin) {
        return Ok(true);
    }
    let context = crate::service::records::filter_context(state, &tenant.organization().await?);
    for (app, document) in apps {
        for table in tenant.list_tables(app).await? {
            let schema = tenant.table_schema_by_id(table.id).await?;
            let files: Vec<FieldId> = schema
                .fields
                .iter()
                .filter(|field| matches!(field.kind, FieldKind::Attachment { .. }))
                .map(|field| field.id)
                .collect();
            if files.is_empty() {
                continue;
            }
            let linked = tenant.looked_up_schemas(&schema).await?;
            let access = Access::of(&document, &schema, &linked, subject.person.clone());
            let readable = access.table.rows(RecordAction::Read).granted();
            let (hidden, shown): (Vec<FieldId>, Vec<FieldId>) = files
                .into_iter()
                .partition(|field| !readable || access.table.is_hidden(*field));
            if tenant
                .file_held_outside(&schema, &hidden, file, None)
                .await?
            {
                return Ok(false);
            }
            if let Some(rule) = access.filter(RecordAction::Read, &schema, &context)?
                && tenant
                    .file_held_outside(&schema, &shown, file, Some(&rule))
                    .await?
            {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// What the request may see of the records each expanded link field of `schema` points to: the linked
/// table's read rule and hidden fields as they apply to the request (nothing for an unlimited one, and
/// no entry for a link whose table the request reads whole).
pub async fn expand_sights(
    state: &crate::state::AppState,
    tenant: &Tenant<'_>,
    actor: &Actor,
    schema: &TableSchema,
    expand: &[FieldId],
) -> ApiResult<HashMap<FieldId, ExpandSight>> {
    let mut sights = HashMap::new();
    if expand.is_empty() || member_of(actor).is_none() {
        return Ok(sights);
    }
    let mut context = None;
    for field in expand {
        let Some(FieldKind::Link {
            table: LinkTarget::Resolved(target),
            ..
        }) = schema.field(*field).map(|field| &field.kind)
        else {
            continue;
        };
        let target = tenant.table_schema_by_id(*target).await?;
        let access = Access::load(tenant, actor, &target).await?;
        if access.person.is_none() {
            continue;
        }
        let rows = if access.table.rows(RecordAction::Read).granted() {
            let context = match context {
                Some(context) => context,
                None => *context.insert(crate::service::records::filter_context(
                    state,
                    &tenant.organization().await?,
                )),
            };
            access
                .filter(RecordAction::Read, &target, &context)?
                .map(Some)
        } else {
            Some(None)
        };
        sights.insert(
            *field,
            ExpandSight {
                rows,
                only: access.visible(&target, None),
            },
        );
    }
    Ok(sights)
}

/// The fields a filter tree refers to.
pub fn filter_fields(filter: &Filter, out: &mut Vec<FieldId>) {
    match filter {
        Filter::And(children) | Filter::Or(children) => {
            for child in children {
                filter_fields(child, out);
            }
        }
        Filter::Not(child) => filter_fields(child, out),
        Filter::Leaf(condition) => out.push(condition.field.id),
    }
}

/// `user AND rule`, either of which may be absent.
pub fn both(user: Option<Filter>, rule: Option<Filter>) -> Option<Filter> {
    match (user, rule) {
        (Some(user), Some(rule)) => Some(Filter::And(vec![user, rule])),
        (user, rule) => user.or(rule),
    }
}
