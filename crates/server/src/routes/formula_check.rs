//! `POST /api/v1/apps/{app}/tables/{table}/formula-check`: checks a formula against a table without
//! saving anything — its result type, or every diagnostic with its span — for editors that check as the
//! person types.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenon_model::FieldId;
use tenon_model::apps::computed;
use tenon_model::apps::formula;
use utoipa::ToSchema;

use crate::auth::{Authed, scopes};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormulaCheck {
    /// The formula as a person writes it, fields as `{Field name}`.
    #[schema(example = "{Hours} * 2")]
    #[serde(default)]
    pub formula: String,
    /// The field whose formula this is (key, id or name): it and the fields that depend on it are left
    /// out, so a formula cannot refer to itself.
    pub field: Option<String>,
    /// `true` checks a condition (a validation rule or filter), which must give TRUE or FALSE.
    #[serde(default)]
    pub condition: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormulaChecked {
    /// The formula can be saved.
    pub valid: bool,
    /// The type of its values, as in a computed field's `result` (`{"type": "number", "precision": 2}`);
    /// `null` when invalid.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// What is wrong, each at its span of the formula (`params.start` inclusive, `params.end` exclusive:
    /// byte offsets into the formula's UTF-8 text).
    pub diagnostics: Vec<FormulaDiagnostic>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormulaDiagnostic {
    /// A `formula_*` detail code (docs/errors.md).
    #[schema(example = "formula_unknown_field")]
    pub code: &'static str,
    /// `start` and `end`: the span (UTF-8 byte offsets) of the formula the diagnostic is about.
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, Value>,
    /// Why, in English.
    pub reason: String,
}

/// Check a formula against a table (nothing is saved).
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables/{table}/formula-check", tag = "apps",
    params(("app" = String, Path, description = "App id or key"), ("table" = String, Path, description = "Table id or key")),
    request_body = FormulaCheck,
    security(("bearer" = ["apps:read"]), ("session" = ["apps:read"])),
    responses((status = 200, body = FormulaChecked), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn check_formula(
    State(state): State<AppState>,
    auth: Authed<scopes::AppsRead>,
    Path((app, table)): Path<(String, String)>,
    ApiJson(body): ApiJson<FormulaCheck>,
) -> ApiResult<axum::Json<FormulaChecked>> {
    let schema = state
        .store()
        .tenant(auth.principal.org_id)
        .table_schema(&app, &table)
        .await?;
    // After the table: another organization's table is 404 whatever the body.
    if body.formula.trim().is_empty() {
        return Err(tenon_model::Invalid::from(tenon_model::FieldError::new(
            "formula",
            tenon_model::DetailCode::Required,
            "give the formula to check",
        ))
        .into());
    }
    let own: Option<FieldId> = body
        .field
        .as_deref()
        .and_then(|reference| schema.resolve_field(reference))
        .map(|field| field.id);
    let mut except = own
        .map(|id| computed::dependents_in_table(&schema, id))
        .unwrap_or_default();
    except.extend(own);
    let formula_schema = computed::formula_schema(&schema, &|_| String::new(), &except);
    let checked = if body.condition {
        formula::check_condition(&body.formula, &formula_schema)
    } else {
        formula::check(&body.formula, &formula_schema)
    };
    Ok(axum::Json(match checked {
        Ok(formula) => FormulaChecked {
            valid: true,
            result: Some(computed::result_json(formula.result_type())),
            diagnostics: Vec::new(),
        },
        Err(found) => FormulaChecked {
            valid: false,
            result: None,
            diagnostics: computed::diagnostics("formula", &found)
                .0
                .into_iter()
                .map(|error| FormulaDiagnostic {
                    code: error.code.as_str(),
                    params: error.params.to_json(),
                    reason: error.reason.clone(),
                })
                .collect(),
        },
    }))
}
