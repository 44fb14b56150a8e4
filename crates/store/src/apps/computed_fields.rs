//! Computed fields in the schema: checking a formula or a lookup when a field is saved, and refusing
//! changes that would break what computed fields read.

use std::collections::HashSet;

use tenon_model::apps::computed;
use tenon_model::apps::permissions::looked_up_tables;
use tenon_model::apps::{Field, FieldKind, FieldRef, FormulaDef, LinkTarget, TableSchema};
use tenon_model::{DetailCode, FieldId};

use crate::exec::Conn;
use crate::{Result, StoreError, Tenant};

impl Tenant<'_> {
    /// Checks a computed field against its table (and, for lookups, the linked table) and fills in what
    /// it reads and its result type.
    pub(crate) async fn resolve_computed(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        kind: FieldKind,
        own: Option<FieldId>,
        path: &str,
    ) -> Result<FieldKind> {
        match kind {
            FieldKind::Formula {
                formula: FormulaDef::Source(text),
            } => {
                let checked =
                    computed::check_formula(&text, schema, own, &format!("{path}.formula"))?;
                Ok(FieldKind::Formula {
                    formula: FormulaDef::Checked(checked),
                })
            }
            FieldKind::Formula {
                formula: FormulaDef::Stored { stored, .. },
            } => {
                let formula_schema = computed::formula_schema(
                    schema,
                    &|_| String::new(),
                    &own.map(|id| {
                        let mut except = computed::dependents_in_table(schema, id);
                        except.insert(id);
                        except
                    })
                    .unwrap_or_default(),
                );
                let checked = tenon_model::apps::formula::check_stored(&stored, &formula_schema)
                    .map_err(|found| computed::diagnostics(&format!("{path}.formula"), &found))?;
                Ok(FieldKind::Formula {
                    formula: FormulaDef::Checked(computed::CheckedFormula::new(checked, schema)),
                })
            }
            kind @ (FieldKind::Lookup { .. }
            | FieldKind::Rollup { .. }
            | FieldKind::Count { .. }) => {
                let link_name = match &kind {
                    FieldKind::Lookup { link, .. }
                    | FieldKind::Rollup { link, .. }
                    | FieldKind::Count { link } => match link {
                        FieldRef::Named(name) => name.clone(),
                        FieldRef::Resolved(id) => id.to_string(),
                    },
                    _ => String::new(),
                };
                let target = match schema.resolve_field(&link_name).map(|field| &field.kind) {
                    Some(FieldKind::Link {
                        table: LinkTarget::Resolved(target),
                        ..
                    }) => Some(*target),
                    _ => None,
                };
                let linked = match target {
                    Some(target) if target == schema.table.id => Some(schema.clone()),
                    Some(target) => Some(self.schema_by_id(conn, target).await?),
                    None => None,
                };
                Ok(computed::resolve_link_field(
                    kind,
                    schema,
                    &|_| linked.clone(),
                    path,
                )?)
            }
            other => Ok(other),
        }
    }

    /// The tables `schema`'s links point to, and those theirs point to (the fields a member may not see
    /// reach through them), from this node's cache when it can.
    pub async fn looked_up_schemas(&self, schema: &TableSchema) -> Result<Vec<TableSchema>> {
        let mut found: Vec<TableSchema> = Vec::new();
        let mut next = looked_up_tables(schema);
        while let Some(table) = next.pop() {
            if table == schema.table.id || found.iter().any(|seen| seen.table.id == table) {
                continue;
            }
            let linked = self.table_schema_by_id(table).await?;
            next.extend(looked_up_tables(&linked));
            found.push(linked);
        }
        Ok(found)
    }

    /// The schemas of every table of an app, read in the current transaction.
    pub(crate) async fn app_schemas(
        &self,
        conn: &mut Conn<'_>,
        app: tenon_model::AppId,
    ) -> Result<Vec<TableSchema>> {
        let mut schemas = Vec::new();
        for table in self.load_tables(conn, app).await? {
            schemas.push(self.schema_by_id(conn, table.id).await?);
        }
        Ok(schemas)
    }

    /// A field's new type must keep what computed fields read from it: same formula type, and formulas
    /// over it must still check with the same result.
    pub(crate) async fn check_readers_allow(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        after: &Field,
    ) -> Result<()> {
        // Readers see the field's formula type, and whether it is computed when read (a stored value
        // computed from it would freeze the clock).
        let seen = |kind: &tenon_model::apps::FieldKind| {
            (
                computed::formula_kind(kind),
                kind.storage() == tenon_model::apps::Storage::Virtual,
            )
        };
        if schema.field(after.id).map(|field| seen(&field.kind)) == Some(seen(&after.kind)) {
            return Ok(());
        }
        let tables = self.app_schemas(conn, schema.app.id).await?;
        let gone = HashSet::from([after.id]);
        let readers = computed::readers_of_fields(&tables, &gone);
        let mut names: Vec<String> = vec![computed::describe_readers(&readers)];
        names.retain(|name| !name.is_empty());
        names.extend(computed::rules_reading(&tables, &gone));
        if names.is_empty() {
            return Ok(());
        }
        Err(StoreError::conflict(
            Some("type"),
            DetailCode::Conflict,
            format!(
                "field \"{}\" is read by {}, which depend on its type; change or delete those first",
                after.key,
                names.join(", ")
            ),
        ))
    }
}

/// Computed fields hold no input: they cannot be unique, required, or have a default.
pub(crate) fn check_computed_flags(
    unique: bool,
    required: bool,
    default: bool,
    path: &str,
) -> Result<()> {
    let mut check = tenon_model::Checker::default();
    if unique {
        check.push(
            format!("{path}.unique"),
            DetailCode::NotAllowed,
            "a computed field cannot be unique",
        );
    }
    if required {
        check.push(
            format!("{path}.required"),
            DetailCode::NotAllowed,
            "a computed field cannot be required; use a validation rule",
        );
    }
    if default {
        check.push(
            format!("{path}.default"),
            DetailCode::NotAllowed,
            "a computed field has no default",
        );
    }
    Ok(check.finish()?)
}
