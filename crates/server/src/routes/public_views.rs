//! Published grid views: a grid with `"public": {"enabled": true, "as_role": "<app role>"}` is readable
//! without an account at `/api/v1/public-views/{slug}` (JSON) and `/v/{slug}` (the page, `tenon-web`) —
//! room availability without the guests' names. One code path loads and pages it for both.
//!
//! What a visitor sees is the view (its fields, filter and sort) narrowed by the named app role as if
//! the visitor held it and nothing else: the role's read rule is ANDed to the view's filter in SQL (rules
//! about the person — `CURRENT_MEMBER()`, departments, `HAS_ROLE` — match no visitor), and the role's
//! hidden fields are left out. A role without `read` on the table shows no rows. A view whose filter
//! or sort uses a field the role hides is refused (403 `field_forbidden`) rather than leaking it through
//! the order of rows.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tenon_model::apps::permissions::{PermissionsDoc, Person, RecordAction, TableAccess};
use tenon_model::apps::view::View;
use tenon_model::apps::{Field, TableSchema};
use tenon_model::{ErrorCode, MemberId, Organization};
use tenon_store::{Cursor, Tenant};
use utoipa::IntoParams;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::routes::records_io::KeyBy;
use crate::service::access::{Access, both};
use crate::service::records::{ListProblem, ListRequest, filter_context, list, record_query};
use crate::state::AppState;

/// Pages of one published view one address may read.
pub const PUBLIC_VIEW_LIMIT: &str = "60/min,burst=120";

/// Rows per page of a published view.
pub const PUBLIC_VIEW_PAGE_SIZE: u32 = 25;

/// A published view with what a page of it needs.
#[derive(Debug, Clone)]
pub struct PublicView {
    pub slug: String,
    pub view: View,
    pub schema: TableSchema,
    pub organization: Organization,
    /// The columns, in the view's order, without the role's hidden fields.
    pub fields: Vec<Field>,
    access: Access,
}

impl PublicView {
    /// The access of a visitor: the view's app role as if they held it and no other.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The view finds one record by number and phone digits instead of listing rows.
    pub fn is_lookup(&self) -> bool {
        self.view.public_lookup().is_some()
    }
}

/// One page of a published view.
#[derive(Debug)]
pub struct PublicPage {
    /// Records as the API renders them, with only the view's visible fields.
    pub items: Vec<Value>,
    pub next: Option<Cursor>,
}

/// The access of a visitor seeing the table as `role`: the role's grants as if the visitor held that
/// role and no other (no member, departments or custom roles of their own).
pub fn visitor_access(
    document: Option<&Value>,
    role: Option<&str>,
    schema: &TableSchema,
    linked: &[TableSchema],
) -> Access {
    let (Some(document), Some(role)) = (document, role) else {
        return Access::full();
    };
    let mut doc = PermissionsDoc::parse(document).unwrap_or_default();
    doc.roles.retain(|own| own.key == role);
    for own in &mut doc.roles {
        own.who.everyone = true;
    }
    let nobody = Person {
        member: MemberId::from_uuid(uuid::Uuid::nil()),
        departments: Vec::new(),
        roles: Vec::new(),
        parents: Default::default(),
    };
    Access::new(
        TableAccess::resolve_with_readers(&doc, schema, linked, &nobody),
        Some(std::sync::Arc::new(nobody)),
    )
}

/// 422 unless `as_role` of a grid's `public` names an app role of the app's permissions.
pub async fn check_role(
    tenant: &Tenant<'_>,
    schema: &TableSchema,
    config: &serde_json::Map<String, Value>,
) -> ApiResult<()> {
    let names_role = config
        .get("public")
        .and_then(|public| public.get("as_role"))
        .is_some_and(Value::is_string);
    if !names_role {
        return Ok(());
    }
    let roles = role_keys(tenant, schema.app.id).await?;
    match tenon_model::apps::view::unknown_public_role(config, &roles, "config") {
        None => Ok(()),
        Some(problem) => Err(tenon_model::Invalid::from(problem).into()),
    }
}

/// The keys of the roles of an app's stored permissions (none without a document).
pub async fn role_keys(tenant: &Tenant<'_>, app: tenon_model::AppId) -> ApiResult<Vec<String>> {
    let document = tenant.app_permissions(app).await?;
    Ok(document
        .as_ref()
        .and_then(|document| PermissionsDoc::parse(document).ok())
        .map(|doc| doc.role_keys())
        .unwrap_or_default())
}

/// The published view behind a slug (404 when there is none, or it is not published any more). `peer`
/// counts against [`PUBLIC_VIEW_LIMIT`].
pub async fn load(state: &AppState, slug: &str, peer: IpAddr) -> ApiResult<PublicView> {
    limited(state, slug, peer)?;
    let (org, view) = state.store().public_view(slug).await?;
    let tenant = state.store().tenant(org);
    let schema = tenant.table_schema_by_id(view.table_id).await?;
    let organization = tenant.organization().await?;
    let document = tenant.app_permissions(schema.app.id).await?;
    let role = view.public_role().map(str::to_owned);
    if let Some(role) = &role {
        let known = document
            .as_ref()
            .and_then(|document| PermissionsDoc::parse(document).ok())
            .is_some_and(|doc| doc.roles.iter().any(|own| own.key == *role));
        // The role was removed since the view was published: publish nothing rather than everything.
        if !known {
            return Err(ApiError::not_found("view"));
        }
    }
    let linked = tenant.looked_up_schemas(&schema).await?;
    let access = visitor_access(document.as_ref(), role.as_deref(), &schema, &linked);
    let keys = view.field_keys();
    let fields = match &keys {
        Some(keys) => keys
            .iter()
            .filter_map(|key| schema.resolve_field(key))
            .cloned()
            .collect(),
        None => schema.fields.clone(),
    }
    .into_iter()
    .filter(|field| !access.table.is_hidden(field.id))
    .collect();
    Ok(PublicView {
        slug: slug.to_owned(),
        view,
        schema,
        organization,
        fields,
        access,
    })
}

fn limited(state: &AppState, slug: &str, peer: IpAddr) -> ApiResult<()> {
    crate::rate_limit::visitor_limit(
        state.limiter(),
        &format!("public-view:{slug}:{peer}"),
        PUBLIC_VIEW_LIMIT,
        "requests",
    )
}

/// A page of the view's rows after `after`: the view's filter AND the role's read rule, the view's sort,
/// only the visible fields.
pub async fn page(
    state: &AppState,
    public: &PublicView,
    after: Option<Cursor>,
) -> ApiResult<PublicPage> {
    // A lookup view lists nothing: each visitor finds only their own record.
    if public.is_lookup() || !public.access.table.rows(RecordAction::Read).granted() {
        return Ok(PublicPage {
            items: Vec::new(),
            next: None,
        });
    }
    let context = filter_context(state, &public.organization);
    let keys: Vec<&str> = public
        .fields
        .iter()
        .map(|field| field.key.as_str())
        .collect();
    let request = ListRequest {
        filter: public.view.filter(),
        sort: public.view.sort().unwrap_or(""),
        fields: Some(keys),
        formula: None,
        page: tenon_model::PageRequest::new(PUBLIC_VIEW_PAGE_SIZE, after).ok_or_else(|| {
            ApiError::internal(
                "the public page size is out of range",
                &std::io::Error::other("page size"),
            )
        })?,
        offset: 0,
        count: false,
    };
    let stale = |message: String| {
        ApiError::new(
            ErrorCode::Conflict,
            format!("view {}: {message}; update the view", public.view.key),
        )
    };
    let mut query =
        record_query(&public.schema, request, &context).map_err(|problem| match problem {
            ListProblem::Filter(error) | ListProblem::Sort(error) => stale(error.reason),
            ListProblem::Field(key) => stale(format!("no field \"{key}\"")),
            ListProblem::Formula(invalid) => stale(invalid.to_string()),
        })?;
    public.access.check_query(
        &public.schema,
        query.filter.as_ref(),
        &query.sort,
        query.condition.as_deref(),
    )?;
    query.filter = both(
        query.filter.take(),
        public
            .access
            .filter(RecordAction::Read, &public.schema, &context)?,
    );
    let page = list(
        state,
        public.organization.id,
        &public.schema,
        &query,
        KeyBy::Key,
        &[],
    )
    .await?;
    Ok(PublicPage {
        items: page.items,
        next: page.next,
    })
}

/// The page as JSON: `{"title", "fields": [{"key", "name", "type"}], "lookup", "items", "next_cursor"}`
/// (`lookup`: the view finds one record by number and phone digits, and lists nothing).
pub fn to_json(public: &PublicView, page: &PublicPage) -> Value {
    json!({
        "title": public.view.name.as_str(),
        "fields": public.fields.iter().map(|field| json!({
            "key": field.key.as_str(),
            "name": field.name.as_str(),
            "type": field.field_type().as_str(),
        })).collect::<Vec<_>>(),
        "lookup": public.is_lookup(),
        "items": page.items,
        "next_cursor": page.next.as_ref().map(crate::routes::records_io::encode_cursor),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicViewParams {
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
}

/// A published grid view, read-only and without a credential: 25 rows a page, only the fields the view
/// shows and its app role does not hide, only the rows the role's read rule allows. Each address may
/// read one view 60 times a minute (bursts of 120).
#[utoipa::path(get, path = "/api/v1/public-views/{slug}", tag = "records",
    params(("slug" = String, Path, description = "The view link's slug"), PublicViewParams),
    responses((status = 200, description = "`{\"title\", \"fields\": [{\"key\", \"name\", \"type\"}], \"items\", \"next_cursor\"}`", body = Object),
        (status = 400, body = ErrorBody), (status = 403, description = "The view filters or sorts by a field its role hides", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The view refers to fields that no longer exist", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_public_view(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    ApiQuery(params): ApiQuery<PublicViewParams>,
) -> ApiResult<axum::Json<Value>> {
    let after = params
        .cursor
        .as_deref()
        .filter(|raw| !raw.is_empty())
        .map(crate::routes::records_io::decode_cursor)
        .transpose()?;
    let public = load(&state, &slug, peer.ip()).await?;
    let page = page(&state, &public, after).await?;
    Ok(axum::Json(to_json(&public, &page)))
}
