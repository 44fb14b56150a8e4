//! Writing link values: the junction rows of a link field, and, while a write tracks what it touches,
//! noting the records on the other side (and those losing a single-valued link's target) before they
//! change.

use std::collections::{HashMap, HashSet};

use tenon_model::RecordId;
use tenon_model::apps::{Field, FieldKind, TableSchema};
use uuid::Uuid;

use super::computed;
use super::query::SqlText;
use super::write::{IDS_PER_STATEMENT, VALUES_PER_STATEMENT};
use crate::apps::ddl;
use crate::exec::{Arg, Conn, quote};
use crate::{Result, Tenant};

impl Tenant<'_> {
    /// Replaces (or, on create, sets) the links of records through one link field. When the other side
    /// holds one record at most, a target linked elsewhere moves here; the records it leaves are returned
    /// (their link changed too). With tracking on, the records on the other side whose links move, and
    /// those that lose a target, are noted before they change.
    pub(crate) async fn write_links(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        field: &Field,
        links: &[(Uuid, Vec<Uuid>)],
        replace: bool,
        schemas: &mut computed::Schemas,
    ) -> Result<Vec<Uuid>> {
        let FieldKind::Link {
            table: tenon_model::apps::LinkTarget::Resolved(target_table),
            inverse: Some(inverse),
            ..
        } = field.kind
        else {
            return Ok(Vec::new());
        };
        let owner_side = field.id < inverse;
        let (mine, other) = if owner_side {
            ("source_id", "target_id")
        } else {
            ("target_id", "source_id")
        };
        let junction = quote(&ddl::junction_name(field.id, inverse));
        let backend = conn.backend();
        let target_schema = self.schema_of(conn, schemas, target_table).await?;
        let single_other = target_schema.fields.iter().any(|candidate| {
            candidate.id == inverse
                && matches!(
                    candidate.kind,
                    FieldKind::Link {
                        multiple: false,
                        ..
                    }
                )
        });
        if schemas.touched.on() {
            // The other side of every link set or cleared changes: note it as it is now.
            let mut moving: Vec<(Uuid, Uuid)> = Vec::new();
            if replace {
                let writers: Vec<Uuid> = links.iter().map(|(id, _)| *id).collect();
                for (me, old) in self.links_of(conn, field, &writers).await? {
                    moving.extend(old.into_iter().map(|target| (me, target)));
                }
            }
            moving.extend(
                links
                    .iter()
                    .flat_map(|(me, targets)| targets.iter().map(move |target| (*me, *target))),
            );
            let mut targets: Vec<RecordId> = Vec::new();
            for (me, target) in &moving {
                schemas.touched.reaches(*me, *target);
                if !schemas.touched.seen(*target) {
                    targets.push(RecordId::from_uuid(*target));
                }
            }
            targets.sort();
            targets.dedup();
            self.note_records(conn, &target_schema, &targets, schemas)
                .await?;
            if single_other {
                // Records of this table that hold a target about to move here lose it.
                let writers: HashSet<Uuid> = links.iter().map(|(id, _)| *id).collect();
                let takers: HashMap<Uuid, Uuid> = links
                    .iter()
                    .flat_map(|(me, targets)| targets.iter().map(move |target| (*target, *me)))
                    .collect();
                let wanted: Vec<Uuid> = takers.keys().copied().collect();
                let mut losers: Vec<RecordId> = Vec::new();
                for chunk in wanted.chunks(IDS_PER_STATEMENT) {
                    let mut sql = SqlText::new(backend);
                    sql.push(&format!(
                        "SELECT {mine}, {other} FROM {junction} WHERE {other} IN ("
                    ))
                    .args(chunk.iter().map(|id| Arg::Uuid(Some(*id))))
                    .push(")");
                    let owners: Vec<(Uuid, Uuid)> = conn.fetch_all(sql.into_sql()).await?;
                    for (owner, target) in owners {
                        if writers.contains(&owner) {
                            continue;
                        }
                        if let Some(taker) = takers.get(&target) {
                            schemas.touched.reaches(*taker, owner);
                        }
                        if !schemas.touched.seen(owner) {
                            losers.push(RecordId::from_uuid(owner));
                        }
                    }
                }
                losers.sort();
                losers.dedup();
                self.note_records(conn, schema, &losers, schemas).await?;
            }
        }
        if replace {
            for chunk in links.chunks(IDS_PER_STATEMENT) {
                let mut sql = SqlText::new(backend);
                sql.push(&format!("DELETE FROM {junction} WHERE {mine} IN ("))
                    .args(chunk.iter().map(|(id, _)| Arg::Uuid(Some(*id))))
                    .push(")");
                conn.execute(sql.into_sql()).await?;
            }
        }
        let mut left = Vec::new();
        if single_other {
            let writers: HashSet<Uuid> = links.iter().map(|(id, _)| *id).collect();
            let targets: Vec<Uuid> = links
                .iter()
                .flat_map(|(_, targets)| targets.iter().copied())
                .collect();
            for chunk in targets.chunks(IDS_PER_STATEMENT) {
                let mut sql = SqlText::new(backend);
                sql.push(&format!("SELECT {mine} FROM {junction} WHERE {other} IN ("))
                    .args(chunk.iter().map(|id| Arg::Uuid(Some(*id))))
                    .push(")");
                let owners: Vec<(Uuid,)> = conn.fetch_all(sql.into_sql()).await?;
                left.extend(
                    owners
                        .into_iter()
                        .map(|(id,)| id)
                        .filter(|id| !writers.contains(id)),
                );
                let mut sql = SqlText::new(backend);
                sql.push(&format!("DELETE FROM {junction} WHERE {other} IN ("))
                    .args(chunk.iter().map(|id| Arg::Uuid(Some(*id))))
                    .push(")");
                conn.execute(sql.into_sql()).await?;
            }
            left.sort();
            left.dedup();
        }
        let pairs: Vec<(Uuid, Uuid, i64)> = links
            .iter()
            .flat_map(|(id, targets)| {
                targets
                    .iter()
                    .enumerate()
                    .map(move |(n, target)| (*id, *target, i64::try_from(n).unwrap_or(i64::MAX)))
            })
            .collect();
        for chunk in pairs.chunks(VALUES_PER_STATEMENT / 3) {
            let mut sql = SqlText::new(backend);
            sql.push(&format!(
                "INSERT INTO {junction} ({mine}, {other}, position) VALUES "
            ));
            for (i, (me, target, position)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .args([
                        Arg::Uuid(Some(*me)),
                        Arg::Uuid(Some(*target)),
                        Arg::Int(Some(*position)),
                    ])
                    .push(")");
            }
            conn.execute(sql.into_sql()).await?;
        }
        Ok(left)
    }

    /// Notes the state of records about to change because of this write (see [`super::touched`]).
    pub(crate) async fn note_records(
        &self,
        conn: &mut Conn<'_>,
        schema: &TableSchema,
        ids: &[RecordId],
        schemas: &mut computed::Schemas,
    ) -> Result<()> {
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            for record in self.load_records(conn, schema, chunk, None).await? {
                schemas.touched.note(schema.table.id, &record);
            }
        }
        Ok(())
    }
}
