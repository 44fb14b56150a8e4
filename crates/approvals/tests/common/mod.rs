//! A small organization and a table for engine tests: members in a two-level department tree, two
//! roles, and a claims table with an amount, an owner, a department and a status.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use tenon_approvals::directory::{DirectoryDepartment, DirectoryMember};
use tenon_approvals::engine::Submission;
use tenon_approvals::state::RecordRef;
use tenon_approvals::{
    Acting, CompiledProcess, DirectorySnapshot, Instance, InstanceState, Known, Process,
};
use tenon_model::apps::field::Bounds;
use tenon_model::apps::{ApiKey, App, CellValue, Choice, Field, FieldKind, Table, TableSchema};
use tenon_model::{
    Actor, AppId, ApprovalId, DepartmentId, FieldId, MemberId, Name, ProcessId, RecordId, TableId,
    TimeZone,
};

pub const MEMBERS: usize = 10;

pub struct World {
    pub members: Vec<MemberId>,
    pub admin: MemberId,
    pub directory: Arc<DirectorySnapshot>,
    pub table: TableSchema,
    pub amount: FieldId,
    pub owner: FieldId,
    pub root: DepartmentId,
    pub sales: DepartmentId,
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

fn field(table: TableId, key: &str, name: &str, kind: FieldKind, position: i64) -> Field {
    Field {
        id: FieldId::new(),
        table_id: table,
        key: ApiKey::parse(key).expect("key"),
        name: Name::parse(name).expect("name"),
        kind,
        required: false,
        unique: false,
        indexed: false,
        default: None,
        position,
        created_at: now(),
        updated_at: now(),
    }
}

impl World {
    /// Members 0..10: 0 heads the root, 1 heads sales (members 1–5), 2 also heads sales; 9 is the admin.
    pub fn new() -> World {
        let members: Vec<MemberId> = (0..MEMBERS).map(|_| MemberId::new()).collect();
        let root = DepartmentId::new();
        let sales = DepartmentId::new();
        let mut directory = DirectorySnapshot::default();
        directory.departments.insert(
            root,
            DirectoryDepartment {
                id: root,
                parent: None,
                heads: vec![members[0]],
            },
        );
        directory.departments.insert(
            sales,
            DirectoryDepartment {
                id: sales,
                parent: Some(root),
                heads: vec![members[1], members[2]],
            },
        );
        for (i, member) in members.iter().enumerate() {
            let department = if (1..=5).contains(&i) { sales } else { root };
            directory.members.insert(
                *member,
                DirectoryMember {
                    id: *member,
                    active: true,
                    departments: vec![department],
                },
            );
        }
        directory
            .roles
            .insert("finance".into(), vec![members[6], members[7]]);
        directory
            .roles
            .insert("board".into(), vec![members[0], members[8], members[9]]);
        directory.admins = vec![members[9]];
        let table_id = TableId::new();
        let app = App {
            id: AppId::new(),
            key: ApiKey::parse("expenses").expect("key"),
            name: Name::parse("Expenses").expect("name"),
            description: None,
            schema_version: 1,
            created_at: now(),
            updated_at: now(),
        };
        let choices = [
            "draft",
            "running",
            "agree",
            "refuse",
            "withdrawn",
            "terminated",
        ]
        .iter()
        .map(|name| Choice {
            id: (*name).to_owned(),
            name: (*name).to_owned(),
            color: "blue".into(),
        })
        .collect();
        let fields = vec![
            field(
                table_id,
                "amount",
                "Amount",
                FieldKind::Number {
                    precision: 2,
                    bounds: Bounds::default(),
                },
                0,
            ),
            field(
                table_id,
                "owner",
                "Owner",
                FieldKind::Member { multiple: false },
                1,
            ),
            field(
                table_id,
                "dept",
                "Dept",
                FieldKind::Department { multiple: false },
                2,
            ),
            field(
                table_id,
                "status",
                "Status",
                FieldKind::SingleSelect { choices },
                3,
            ),
            field(
                table_id,
                "reason",
                "Reason",
                FieldKind::Text {
                    min_length: None,
                    max_length: None,
                    pattern: None,
                },
                4,
            ),
        ];
        let amount = fields[0].id;
        let owner = fields[1].id;
        let table = TableSchema {
            app: app.clone(),
            table: Table {
                id: table_id,
                app_id: app.id,
                key: ApiKey::parse("claims").expect("key"),
                name: Name::parse("Claims").expect("name"),
                primary_field_id: None,
                unique_together: Vec::new(),
                indexes: Vec::new(),
                validation_rules: Vec::new(),
                position: 0,
                created_at: now(),
                updated_at: now(),
            },
            fields,
        };
        World {
            admin: members[9],
            members,
            directory: Arc::new(directory),
            table,
            amount,
            owner,
            root,
            sales,
        }
    }

    pub fn compile(&self, definition: &Value) -> CompiledProcess {
        let process = Process::parse(definition, "").expect("the definition parses");
        let roles: HashSet<String> = self.directory.roles.keys().cloned().collect();
        let members: HashSet<MemberId> = self.members.iter().copied().collect();
        tenon_approvals::compile(
            process,
            &self.table,
            std::slice::from_ref(&self.table),
            Known {
                roles: &roles,
                members: &members,
            },
            "",
        )
        .expect("the definition compiles")
    }

    /// A new instance of `process` on a fresh record.
    pub fn new_state(&self, process: CompiledProcess) -> InstanceState {
        let instance = Instance::new(
            ApprovalId::new(),
            ProcessId::new(),
            process.process.code.clone(),
            1,
            RecordRef {
                app: self.table.app.id,
                table: self.table.table.id,
                id: RecordId::new(),
            },
            "20261125000001".into(),
            now(),
        );
        InstanceState {
            process: Arc::new(process),
            directory: Some(self.directory.clone()),
            delegations: Arc::from([]),
            time_zone: TimeZone::SHANGHAI,
            instance,
            activations: Vec::new(),
            tasks: Vec::new(),
        }
    }

    pub fn submission(&self, amount: i64, owner: usize) -> Submission {
        let mut values = BTreeMap::new();
        values.insert(
            self.amount,
            CellValue::Decimal(Decimal::new(amount * 100, 2)),
        );
        values.insert(
            self.owner,
            CellValue::Ids(vec![*self.members[owner].as_uuid()]),
        );
        Submission {
            values,
            created_by: Some(self.members[owner]),
            modified_by: None,
        }
    }
}

/// A member acting through a session.
pub fn acting(member: MemberId) -> Acting {
    Acting {
        member: Some(member),
        credential: Actor::Member {
            id: member,
            name: "someone".into(),
        },
        admin: false,
    }
}

/// An administrator's organization token.
pub fn admin() -> Acting {
    Acting {
        member: None,
        credential: Actor::System,
        admin: true,
    }
}

/// Counts by key.
pub fn counts<K: std::hash::Hash + Eq>(items: impl IntoIterator<Item = K>) -> HashMap<K, usize> {
    let mut counts = HashMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}
