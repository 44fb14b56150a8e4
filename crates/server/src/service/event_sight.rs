//! What a member sees of the event outbox (issue #19): on every path a member reads events — the list
//! (`GET /api/v1/events`), one event (`GET /api/v1/events/{id}`) and the Server-Sent Events stream — a
//! record's event is shown only when the member may read the record, and without the fields hidden from
//! them.
//!
//! - Who is limited: as on the records routes ([`crate::service::access`]), a member through a session
//!   or a personal token acting for a member; owners and admins, organization tokens and app
//!   installations see every event whole. Events of apps without a permissions section are unchanged.
//! - Rows: the member's read rule is compiled to SQL and evaluated on the record **as it is now** (as
//!   record history does), so a record that left the member's rows takes its past events with it. A
//!   record deleted since (and every `record.deleted` event) cannot be evaluated that way: such events
//!   are shown only to members who may read every row of the table.
//! - Fields: hidden fields are removed from `data.before`, `data.after` and `data.changed`; an update
//!   that changed only hidden fields is not shown at all.
//! - Approvals: an `approval.*` event of a record (its `subject` names the app, table and record) is
//!   shown when the member may read that record, by the same rule; it carries no field values, so
//!   nothing is removed from it. Delegation events (no record) follow the credential's scopes only.
//! - Permissions: an app's permissions document is for its managers (`GET …/permissions` is owners' and
//!   admins'), so a `schema.changed` event shown to a plain member has `permissions` removed from
//!   `data.before` and `data.after` (`data.changed` still names it: the member's grid knows to reload).
//!
//! Other event types (`member.*`, …) follow the credential's scopes only.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use tenon_model::apps::TableSchema;
use tenon_model::apps::filter::{Filter, FilterContext};
use tenon_model::apps::permissions::{PermissionsDoc, Person, RecordAction, Rows};
use tenon_model::{Actor, AppId, Event, MemberId, RecordId, Role, TableId};
use tenon_store::{MissingRecord, StoreError, Tenant};

use crate::error::ApiResult;
use crate::service::access::{Access, member_of};
use crate::state::AppState;

/// How one table's record events are shown to the member.
enum TableSight {
    /// Every event, whole.
    Whole,
    /// None of them.
    Nothing,
    /// Those of records the rule accepts now (every existing record when `rule` is `None`), without
    /// the hidden fields (by key).
    Rows {
        schema: Box<TableSchema>,
        rule: Option<Filter>,
        every_row: bool,
        hidden: HashSet<String>,
    },
}

/// The member's sight of the events, loaded lazily (no query for a credential that is not limited).
pub struct EventSight {
    member: Option<MemberId>,
    /// `None` until loaded; `Some(None)` for an owner or admin.
    person: Option<Option<Arc<Person>>>,
    apps: HashMap<AppId, Option<Arc<PermissionsDoc>>>,
    tables: HashMap<TableId, TableSight>,
    context: Option<FilterContext>,
}

impl EventSight {
    /// The sight of the request's actor.
    pub fn of(actor: &Actor) -> EventSight {
        EventSight {
            member: member_of(actor),
            person: None,
            apps: HashMap::new(),
            tables: HashMap::new(),
            context: None,
        }
    }

    /// Whether every event is shown whole without looking (an unlimited credential).
    pub fn sees_everything(&self) -> bool {
        self.member.is_none()
    }

    /// Forgets what was loaded, so changed permissions apply to the next batch (a long stream).
    pub fn refresh(&mut self) {
        self.person = None;
        self.apps.clear();
        self.tables.clear();
    }

    /// The events of `events` the member may see, in order, with hidden fields removed.
    pub async fn filter(
        &mut self,
        state: &AppState,
        tenant: &Tenant<'_>,
        events: Vec<Event>,
    ) -> ApiResult<Vec<Event>> {
        if self.member.is_none() || events.is_empty() {
            return Ok(events);
        }
        // Which records of which tables are still to be checked in SQL.
        let mut asked: HashMap<TableId, Vec<RecordId>> = HashMap::new();
        let mut keep = Vec::with_capacity(events.len());
        for event in &events {
            let verdict = self.verdict(state, tenant, event).await?;
            if let Verdict::Check { table, record, .. } = verdict {
                asked.entry(table).or_default().push(record);
            }
            keep.push(verdict);
        }
        let mut readable: HashSet<RecordId> = HashSet::new();
        for (table, mut ids) in asked {
            let Some(TableSight::Rows { schema, rule, .. }) = self.tables.get(&table) else {
                continue;
            };
            ids.sort_unstable();
            ids.dedup();
            readable.extend(
                tenant
                    .records_within(schema, &ids, rule.as_ref(), MissingRecord::Outside)
                    .await?,
            );
        }
        let mut out = Vec::with_capacity(events.len());
        for (mut event, verdict) in events.into_iter().zip(keep) {
            match verdict {
                Verdict::Show => out.push(event),
                Verdict::Hide => {}
                Verdict::WithoutPermissions => {
                    for side in ["before", "after"] {
                        if let Some(snapshot) =
                            event.data.get_mut(side).and_then(Value::as_object_mut)
                        {
                            snapshot.remove("permissions");
                        }
                    }
                    out.push(event);
                }
                Verdict::Redact(table) | Verdict::Check { table, .. } => {
                    if let Verdict::Check { record, .. } = verdict
                        && !readable.contains(&record)
                    {
                        continue;
                    }
                    if matches!(verdict, Verdict::Check { redact: false, .. }) {
                        out.push(event);
                    } else if let Some(TableSight::Rows { hidden, .. }) = self.tables.get(&table)
                        && redact(&mut event.data, hidden)
                    {
                        out.push(event);
                    }
                }
            }
        }
        Ok(out)
    }

    /// What to do with one event, loading the sight of its table when it is a record's.
    async fn verdict(
        &mut self,
        state: &AppState,
        tenant: &Tenant<'_>,
        event: &Event,
    ) -> ApiResult<Verdict> {
        if event.event_type == "schema.changed" {
            return Ok(if self.person(tenant).await?.is_some() {
                Verdict::WithoutPermissions
            } else {
                Verdict::Show
            });
        }
        let approval = event.event_type.starts_with("approval.");
        if !approval && !event.event_type.starts_with("record.") {
            return Ok(Verdict::Show);
        }
        let id = |key: &str| event.subject.get(key).and_then(Value::as_str);
        let (Some(table), Some(record)) = (
            id("table_id").and_then(|raw| raw.parse::<TableId>().ok()),
            id("record_id").and_then(|raw| raw.parse::<RecordId>().ok()),
        ) else {
            // An approval event about no record (a delegation) follows the scopes only.
            return Ok(if approval {
                Verdict::Show
            } else {
                Verdict::Hide
            });
        };
        let app = id("app_id").and_then(|raw| raw.parse::<AppId>().ok());
        if !self.tables.contains_key(&table) {
            let sight = self.load_table(state, tenant, app, table).await?;
            self.tables.insert(table, sight);
        }
        Ok(match &self.tables[&table] {
            TableSight::Whole => Verdict::Show,
            TableSight::Nothing => Verdict::Hide,
            // Every row: nothing to evaluate; an approval event carries no fields to remove.
            TableSight::Rows {
                every_row: true, ..
            } if approval => Verdict::Show,
            // Every row: nothing to evaluate, only fields to remove (a deleted record's event too).
            TableSight::Rows {
                every_row: true, ..
            } => Verdict::Redact(table),
            // A deleted record cannot be evaluated as it is now.
            TableSight::Rows { .. } if event.event_type == "record.deleted" => Verdict::Hide,
            TableSight::Rows { .. } => Verdict::Check {
                table,
                record,
                redact: !approval,
            },
        })
    }

    /// The person the member's rules are read for; `None` for an owner or admin (loaded once).
    async fn person(&mut self, tenant: &Tenant<'_>) -> ApiResult<Option<Arc<Person>>> {
        let Some(member) = self.member else {
            return Ok(None);
        };
        if let Some(person) = &self.person {
            return Ok(person.clone());
        }
        let subject = tenant.permission_subject(member).await?;
        let person = (!matches!(subject.role, Role::Owner | Role::Admin)).then_some(subject.person);
        self.person = Some(person.clone());
        Ok(person)
    }

    async fn load_table(
        &mut self,
        state: &AppState,
        tenant: &Tenant<'_>,
        app: Option<AppId>,
        table: TableId,
    ) -> ApiResult<TableSight> {
        if self.member.is_none() {
            return Ok(TableSight::Whole);
        }
        let Some(app) = app else {
            return Ok(TableSight::Nothing);
        };
        let document = match self.apps.get(&app) {
            Some(document) => document.clone(),
            None => {
                let document = tenant.app_permissions_doc(app).await?;
                self.apps.insert(app, document.clone());
                document
            }
        };
        let Some(document) = document else {
            return Ok(TableSight::Whole);
        };
        let Some(person) = self.person(tenant).await? else {
            return Ok(TableSight::Whole);
        };
        let schema = match tenant.table_schema_by_id(table).await {
            Ok(schema) => schema,
            // The table is gone: nothing to evaluate its rules on.
            Err(StoreError::NotFound { .. }) => return Ok(TableSight::Nothing),
            Err(other) => return Err(other.into()),
        };
        let linked = tenant.looked_up_schemas(&schema).await?;
        let access = Access::resolved(&document, &schema, &linked, person);
        if !access.table.rows(RecordAction::Read).granted() {
            return Ok(TableSight::Nothing);
        }
        if access.table.is_full() {
            return Ok(TableSight::Whole);
        }
        let context = match self.context {
            Some(context) => context,
            None => {
                let organization = tenant.organization().await?;
                let context = crate::service::records::filter_context(state, &organization);
                self.context = Some(context);
                context
            }
        };
        let rule = access.filter(RecordAction::Read, &schema, &context)?;
        let every_row = *access.table.rows(RecordAction::Read) == Rows::All;
        let hidden = access
            .table
            .hidden
            .iter()
            .filter_map(|field| schema.field(*field))
            .map(|field| field.key.as_str().to_owned())
            .collect();
        Ok(TableSight::Rows {
            schema: Box::new(schema),
            rule,
            every_row,
            hidden,
        })
    }
}

#[derive(Clone, Copy)]
enum Verdict {
    Show,
    Hide,
    /// Shown without the table's hidden fields.
    Redact(TableId),
    /// A record's event to check against the table's sight; `redact`: remove its hidden fields (an
    /// approval event has none).
    Check {
        table: TableId,
        record: RecordId,
        redact: bool,
    },
    /// A `schema.changed` event shown without the app's permissions document.
    WithoutPermissions,
}

/// Removes the hidden fields from `before`, `after` and `changed`; `false` when the event only
/// changed hidden fields (it is then not shown).
fn redact(data: &mut Value, hidden: &HashSet<String>) -> bool {
    if hidden.is_empty() {
        return true;
    }
    for side in ["before", "after"] {
        if let Some(fields) = data.get_mut(side).and_then(Value::as_object_mut) {
            fields.retain(|key, _| !hidden.contains(key));
        }
    }
    if let Some(changed) = data.get_mut("changed").and_then(Value::as_array_mut) {
        let before = changed.len();
        changed.retain(|key| key.as_str().is_none_or(|key| !hidden.contains(key)));
        if before > 0 && changed.is_empty() {
            return false;
        }
    }
    true
}
