//! Computed fields that would reveal a hidden field are hidden too: a formula that reads a hidden field
//! (or another such computed field), a lookup, rollup or count through a hidden link, and a lookup or
//! rollup of a field hidden from the member on the linked table, and so on through any number of steps.
//! A linked table of the app the member may not read at all counts as all hidden, and so do the links to
//! it (they would name its records): nothing of it shows through links, lookups, rollups or counts. Field ids are unique across tables, so one set holds the hidden fields of every table involved.

use std::collections::{BTreeSet, HashSet};

use super::{PermissionsDoc, Person, RecordAction, TableAccess};
use crate::apps::TableSchema;
use crate::apps::computed::field_inputs;
use crate::apps::field::{FieldKind, LinkTarget};
use crate::ids::{FieldId, TableId};

/// The table a link field points to, once resolved.
fn link_target(field: &crate::apps::Field) -> Option<TableId> {
    match &field.kind {
        FieldKind::Link {
            table: LinkTarget::Resolved(table),
            ..
        } => Some(*table),
        _ => None,
    }
}

/// The other tables `schema`'s links point to (their lookups and rollups read them; a link names their
/// records).
pub fn looked_up_tables(schema: &TableSchema) -> Vec<TableId> {
    let mut tables = Vec::new();
    for table in schema.fields.iter().filter_map(link_target) {
        if table != schema.table.id && !tables.contains(&table) {
            tables.push(table);
        }
    }
    tables
}

impl TableAccess {
    /// [`TableAccess::resolve`], with every computed field of `schema` that would reveal a field hidden
    /// from `person` hidden (and read-only) too. `linked` holds the tables the links point to, and those
    /// theirs point to ([`looked_up_tables`], followed); a table left out hides nothing.
    pub fn resolve_with_readers(
        doc: &PermissionsDoc,
        schema: &TableSchema,
        linked: &[TableSchema],
        person: &Person,
    ) -> TableAccess {
        let mut access = TableAccess::resolve(doc, schema, person);
        let others = linked
            .iter()
            .filter(|other| other.table.id != schema.table.id);
        let mut hidden: HashSet<FieldId> = access.hidden.iter().copied().collect();
        for other in others.clone() {
            let theirs = TableAccess::resolve(doc, other, person);
            // Another app's table answers to that app's permissions, not to this document.
            let unreadable = other.table.app_id == schema.table.app_id
                && !theirs.rows(RecordAction::Read).granted();
            if unreadable {
                hidden.extend(other.fields.iter().map(|field| field.id));
                hidden.extend(
                    std::iter::once(schema)
                        .chain(others.clone())
                        .flat_map(|table| &table.fields)
                        .filter(|field| link_target(field) == Some(other.table.id))
                        .map(|field| field.id),
                );
            } else {
                hidden.extend(theirs.hidden);
            }
        }
        if hidden.is_empty() {
            return access;
        }
        loop {
            let readers: Vec<FieldId> = std::iter::once(schema)
                .chain(others.clone())
                .flat_map(|table| &table.fields)
                .filter(|field| {
                    !hidden.contains(&field.id)
                        && field_inputs(&field.kind)
                            .iter()
                            .any(|input| hidden.contains(input))
                })
                .map(|field| field.id)
                .collect();
            if readers.is_empty() {
                break;
            }
            hidden.extend(readers);
        }
        let own: BTreeSet<FieldId> = schema
            .fields
            .iter()
            .map(|field| field.id)
            .filter(|id| hidden.contains(id))
            .collect();
        access.read_only.extend(own.iter().copied());
        access.hidden = own;
        access
    }
}
