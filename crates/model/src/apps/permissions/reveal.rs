//! Computed fields that would reveal a hidden field are hidden too: a formula that reads a hidden field
//! (or another such computed field), a lookup, rollup or count through a hidden link, and a lookup or
//! rollup of a field hidden from the member on the linked table, and so on through any number of steps.
//! Field ids are unique across tables, so one set holds the hidden fields of every table involved.

use std::collections::{BTreeSet, HashSet};

use super::{PermissionsDoc, Person, TableAccess};
use crate::apps::TableSchema;
use crate::apps::computed::field_inputs;
use crate::apps::field::{FieldKind, LinkTarget};
use crate::ids::{FieldId, TableId};

/// The other tables whose fields `schema`'s lookups and rollups read.
pub fn looked_up_tables(schema: &TableSchema) -> Vec<TableId> {
    let mut tables = Vec::new();
    for field in &schema.fields {
        let (FieldKind::Lookup { link, .. } | FieldKind::Rollup { link, .. }) = &field.kind else {
            continue;
        };
        let target = link
            .id()
            .and_then(|link| schema.field(link))
            .and_then(|link| match &link.kind {
                FieldKind::Link {
                    table: LinkTarget::Resolved(table),
                    ..
                } => Some(*table),
                _ => None,
            });
        if let Some(table) = target
            && table != schema.table.id
            && !tables.contains(&table)
        {
            tables.push(table);
        }
    }
    tables
}

impl TableAccess {
    /// [`TableAccess::resolve`], with every computed field of `schema` that would reveal a field hidden
    /// from `person` hidden (and read-only) too. `linked` holds the tables the lookups and rollups read,
    /// and those theirs read ([`looked_up_tables`], followed); a table left out hides nothing.
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
            hidden.extend(TableAccess::resolve(doc, other, person).hidden);
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
