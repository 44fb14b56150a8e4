//! The 发布|Publish dialog of a grid view (issue #19): whether the view is published read-only, as which
//! app role a visitor sees it (that role's hidden fields and read rule; see
//! `tenon_server::routes::public_views`), and once published its page `/v/{slug}` with a QR code. The
//! dialog saves through the views API (`config.public`), like the other view tools.

use serde::Serialize;
use tenon_model::apps::TableSchema;
use tenon_model::apps::permissions::PermissionsDoc;
use tenon_model::apps::view::{View, ViewType};
use tenon_store::{StoreError, Tenant};

/// An app role a view may be published as.
#[derive(Debug, Serialize)]
pub struct RoleItem {
    pub key: String,
    pub name: String,
}

/// What the dialog shows.
#[derive(Debug, Serialize)]
pub struct Publish {
    pub enabled: bool,
    /// The role chosen (`None`: no role, the view's fields and rows as they are).
    pub as_role: Option<String>,
    /// The app's roles, in the permissions document's order.
    pub roles: Vec<RoleItem>,
    /// The page of the published view (`<origin>/v/<slug>`), while it is published.
    pub link: Option<String>,
    pub qr_url: Option<String>,
}

/// The dialog of a grid view (`None` for other view types).
pub async fn publish(
    tenant: &Tenant<'_>,
    schema: &TableSchema,
    view: &View,
    origin: &str,
    qr_base: &str,
) -> Result<Option<Publish>, StoreError> {
    if view.view_type != ViewType::Grid {
        return Ok(None);
    }
    let roles = tenant
        .app_permissions(schema.app.id)
        .await?
        .as_ref()
        .and_then(|document| PermissionsDoc::parse(document).ok())
        .map(|doc| {
            doc.roles
                .into_iter()
                .map(|role| RoleItem {
                    key: role.key,
                    name: role.name,
                })
                .collect()
        })
        .unwrap_or_default();
    let enabled = view.is_public_grid();
    let link = view
        .public_slug
        .as_ref()
        .filter(|_| enabled)
        .map(|slug| format!("{origin}/v/{slug}"));
    Ok(Some(Publish {
        enabled,
        as_role: view.public_role().map(str::to_owned),
        roles,
        qr_url: link
            .as_ref()
            .map(|_| format!("{qr_base}/views/{}/qr.svg", view.id)),
        link,
    }))
}
