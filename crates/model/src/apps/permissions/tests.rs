//! The permissions document, row rules lowered for a person, and grants merged per table.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::*;
use crate::apps::{ApiKey, App, Field, FieldKind, Table};
use crate::ids::{AppId, FieldId, TableId};
use crate::values::Name;

fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn field(key: &str, kind: FieldKind) -> Field {
    Field {
        id: FieldId::from_uuid(uuid::Uuid::from_u128(
            key.bytes()
                .fold(17, |hash, byte| hash * 31 + u128::from(byte)),
        )),
        table_id: TableId::from_uuid(uuid::Uuid::from_u128(1)),
        key: ApiKey::parse(key).unwrap(),
        name: Name::parse(key).unwrap(),
        kind,
        required: false,
        unique: false,
        indexed: false,
        default: None,
        position: 0,
        created_at: at(),
        updated_at: at(),
    }
}

fn schema() -> TableSchema {
    TableSchema {
        app: App {
            id: AppId::from_uuid(uuid::Uuid::from_u128(9)),
            key: ApiKey::parse("charity").unwrap(),
            name: Name::parse("charity").unwrap(),
            description: None,
            schema_version: 1,
            created_at: at(),
            updated_at: at(),
        },
        table: Table {
            id: TableId::from_uuid(uuid::Uuid::from_u128(1)),
            app_id: AppId::from_uuid(uuid::Uuid::from_u128(9)),
            key: ApiKey::parse("families").unwrap(),
            name: Name::parse("families").unwrap(),
            primary_field_id: None,
            unique_together: Vec::new(),
            indexes: Vec::new(),
            validation_rules: Vec::new(),
            position: 0,
            created_at: at(),
            updated_at: at(),
        },
        fields: vec![
            field("name", text()),
            field("volunteer", FieldKind::Member { multiple: false }),
            field("dept", FieldKind::Department { multiple: false }),
            field("status", text()),
        ],
    }
}

fn check(doc: Value) -> Result<(), Invalid> {
    let parsed = PermissionsDoc::parse(&doc)?;
    let tables = [schema()];
    let roles = [("finance".to_owned(), "财务".to_owned())];
    parsed.check(&CheckContext {
        tables: &tables,
        roles: &roles,
        departments: &HashSet::new(),
        members: &HashSet::new(),
    })
}

#[test]
fn the_issue_document_reads_back_the_same() {
    let doc = json!({"roles": [{"key": "volunteers", "name": "志愿者",
        "who": {"members": [], "departments": [], "roles": ["finance"]},
        "grants": [{"table": "families", "actions": {"read": "{volunteer} = CURRENT_MEMBER()",
            "update": "{volunteer} = CURRENT_MEMBER()", "export": true},
            "fields": {"hidden": ["status"], "read_only": ["name"]}}]}]});
    check(doc.clone()).unwrap();
    assert_eq!(PermissionsDoc::parse(&doc).unwrap().to_json(), doc);
}

#[test]
fn unknown_keys_tables_fields_roles_and_bad_rules_are_named() {
    let invalid = check(json!({"roles": [{"key": "a", "name": "A", "colour": 1}]})).unwrap_err();
    assert_eq!(invalid.0[0].field, "roles[0].colour");
    let invalid = check(json!({"roles": [{"key": "a", "name": "A", "who": {"roles": ["nope"]},
        "grants": [{"table": "nope", "actions": {"read": true}},
                   {"table": "families", "actions": {"read": "{nope} = 1", "update": "HAS_ROLE(\"x\")"},
                    "fields": {"hidden": ["ghost"]}}]}]}))
    .unwrap_err();
    let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "roles[0].who.roles[0]",
            "roles[0].grants[0].table",
            "roles[0].grants[1].fields.hidden[0]",
            "roles[0].grants[1].actions.read",
            "roles[0].grants[1].actions.update",
        ]
    );
    assert_eq!(invalid.0[3].params.get("start"), Some(&json!(0)));
    let invalid = check(json!({"roles": [{"key": "a", "name": "A",
        "grants": [{"table": "families", "actions": {"read": "{name} > CURRENT_DEPARTMENTS()"}}]}]}))
    .unwrap_err();
    assert_eq!(invalid.0[0].code, DetailCode::FormulaType);
}

#[test]
fn rules_lower_to_filters_for_the_person() {
    let schema = schema();
    let dept = DepartmentId::from_uuid(uuid::Uuid::from_u128(5));
    let child = DepartmentId::from_uuid(uuid::Uuid::from_u128(6));
    let person = Person {
        member: MemberId::from_uuid(uuid::Uuid::from_u128(3)),
        departments: vec![dept],
        roles: vec![("finance".into(), "财务".into())],
        parents: HashMap::from([(dept, None), (child, Some(dept))]),
    };
    let lower = |text: &str| {
        RowRule::check(text, &schema, &person.roles)
            .unwrap()
            .lower(&schema, &person)
            .unwrap()
    };
    let volunteer = schema.field_by_key("volunteer").unwrap().id.to_string();
    assert_eq!(
        lower("{volunteer} = CURRENT_MEMBER()"),
        json!({"field": volunteer, "op": "has_any", "value": [person.member.to_string()]})
    );
    assert_eq!(lower("HAS_ROLE(\"财务\")"), json!({"and": []}));
    let status = schema.field_by_key("status").unwrap().id.to_string();
    assert_eq!(
        lower("{status} != \"archived\""),
        json!({"not": {"field": status, "op": "eq", "value": "archived"}})
    );
    let dept_field = schema.field_by_key("dept").unwrap().id.to_string();
    let mut both = vec![dept.to_string(), child.to_string()];
    both.sort();
    assert_eq!(
        lower("IN_DEPARTMENT({dept}, CURRENT_DEPARTMENTS(), TRUE)"),
        json!({"field": dept_field, "op": "has_any", "value": both})
    );
}

#[test]
fn grants_merge_as_a_union_and_hide_only_what_every_grant_hides() {
    let schema = schema();
    let doc = PermissionsDoc::parse(&json!({"roles": [
        {"key": "a", "name": "A", "who": {"roles": ["finance"]},
         "grants": [{"table": "families", "actions": {"read": "{status} = \"x\""}, "fields": {"hidden": ["name", "status"]}}]},
        {"key": "b", "name": "B", "who": {"roles": ["finance"]},
         "grants": [{"table": "families", "actions": {"read": "{status} = \"y\"", "update": true}, "fields": {"hidden": ["name"]}}]},
        {"key": "c", "name": "C", "who": {"roles": ["other"]},
         "grants": [{"table": "families", "actions": {"delete": true}}]}]}))
    .unwrap();
    let person = Person {
        member: MemberId::from_uuid(uuid::Uuid::from_u128(3)),
        departments: Vec::new(),
        roles: vec![("finance".into(), "财务".into())],
        parents: HashMap::new(),
    };
    let access = TableAccess::resolve(&doc, &schema, &person);
    assert!(matches!(access.rows(RecordAction::Read), Rows::Rules(rules) if rules.len() == 2));
    assert_eq!(access.rows(RecordAction::Update), &Rows::All);
    assert_eq!(access.rows(RecordAction::Delete), &Rows::None);
    let name = schema.field_by_key("name").unwrap().id;
    assert_eq!(access.hidden, [name].into_iter().collect());
    assert!(access.read_only.contains(&name));
}

#[test]
fn everyone_names_every_member_and_reads_back() {
    let raw = json!({"roles": [{"key": "all", "name": "All", "who": {"everyone": true},
        "grants": [{"table": "families", "actions": {"read": true}}]}]});
    let doc = PermissionsDoc::parse(&raw).unwrap();
    assert!(doc.roles[0].who.everyone);
    assert_eq!(PermissionsDoc::parse(&doc.to_json()).unwrap(), doc);
    let nobody = Person {
        member: MemberId::from_uuid(uuid::Uuid::from_u128(9)),
        departments: Vec::new(),
        roles: Vec::new(),
        parents: HashMap::new(),
    };
    assert!(nobody.is_named_by(&doc.roles[0].who));
    assert!(!nobody.is_named_by(&Who::default()));
    let access = TableAccess::resolve(&doc, &schema(), &nobody);
    assert_eq!(access.rows(RecordAction::Read), &Rows::All);
    let bad = PermissionsDoc::parse(
        &json!({"roles": [{"key": "x", "name": "X", "who": {"everyone": "yes"}}]}),
    );
    assert_eq!(bad.unwrap_err().0[0].field, "roles[0].who.everyone");
}

fn text() -> FieldKind {
    FieldKind::Text {
        min_length: None,
        max_length: None,
        pattern: None,
    }
}

/// A formula reading `inputs` (stored form).
fn formula_over(inputs: &[FieldId]) -> FieldKind {
    let stored = inputs
        .iter()
        .map(|id| format!("{{{id}}}"))
        .collect::<Vec<_>>()
        .join(" & ");
    FieldKind::Formula {
        formula: crate::apps::computed::FormulaDef::Stored {
            stored,
            result: tenon_formula::Type::Text,
            clock: false,
        },
    }
}

#[test]
fn computed_fields_that_read_a_hidden_field_are_hidden_too() {
    use crate::apps::field::{FieldRef, LinkTarget};
    let mut families = schema();
    let name = families.field_by_key("name").unwrap().id;
    let status = families.field_by_key("status").unwrap().id;
    let initial = field("initial", formula_over(&[status]));
    let shout = field("shout", formula_over(&[initial.id]));
    let plain = field("plain", formula_over(&[name]));
    let (initial_id, shout_id, plain_id) = (initial.id, shout.id, plain.id);
    families.fields.extend([initial, shout, plain]);
    let mut visits = schema();
    visits.table.id = TableId::from_uuid(uuid::Uuid::from_u128(2));
    visits.table.key = ApiKey::parse("visits").unwrap();
    let family = field(
        "family",
        FieldKind::Link {
            table: LinkTarget::Resolved(families.table.id),
            multiple: false,
            inverse: None,
        },
    );
    let link = || FieldRef::Resolved(family.id);
    let lookup = |key: &str, read: FieldId| {
        field(
            key,
            FieldKind::Lookup {
                link: link(),
                field: FieldRef::Resolved(read),
                result: None,
            },
        )
    };
    visits.fields = vec![
        lookup("family_status", status),
        lookup("family_name", name),
        field(
            "family_shout",
            FieldKind::Rollup {
                link: link(),
                field: FieldRef::Resolved(shout_id),
                function: tenon_formula::rollup::Aggregate::Count,
                result: None,
            },
        ),
        field("families", FieldKind::Count { link: link() }),
        family,
    ];
    let ids = |table: &TableSchema, keys: &[&str]| -> std::collections::BTreeSet<FieldId> {
        keys.iter()
            .map(|key| table.field_by_key(key).unwrap().id)
            .collect()
    };
    assert_eq!(looked_up_tables(&visits), vec![families.table.id]);
    assert!(looked_up_tables(&families).is_empty());
    let hiding = |table: &str, hidden: &str| {
        PermissionsDoc::parse(&json!({"roles": [{"key": "all", "name": "All", "who": {"everyone": true},
            "grants": [{"table": "families", "actions": {"read": true}},
                       {"table": "visits", "actions": {"read": true}},
                       {"table": table, "actions": {"read": true}, "fields": {"hidden": [hidden]}}]}]}))
        .unwrap()
    };
    let person = Person {
        member: MemberId::from_uuid(uuid::Uuid::from_u128(3)),
        departments: Vec::new(),
        roles: Vec::new(),
        parents: HashMap::new(),
    };
    // Every grant must hide a field for it to be hidden: one grant per table hides nothing.
    let none = hiding("families", "status");
    assert!(
        TableAccess::resolve_with_readers(&none, &visits, &[families.clone()], &person)
            .hidden
            .is_empty()
    );
    let only = |table: &str, hidden: &str| {
        let mut doc = hiding(table, hidden);
        doc.roles[0]
            .grants
            .retain(|grant| grant.table != table || !grant.hidden.is_empty());
        doc
    };
    let doc = only("families", "status");
    let own = TableAccess::resolve_with_readers(&doc, &families, &[visits.clone()], &person);
    assert_eq!(
        own.hidden,
        [status, initial_id, shout_id].into_iter().collect()
    );
    assert!(!own.is_hidden(plain_id) && own.read_only.contains(&shout_id));
    let other = TableAccess::resolve_with_readers(&doc, &visits, &[families.clone()], &person);
    assert_eq!(
        other.hidden,
        ids(&visits, &["family_status", "family_shout"])
    );
    // Without the linked table nothing there is known to be hidden.
    assert!(
        TableAccess::resolve_with_readers(&doc, &visits, &[], &person)
            .hidden
            .is_empty()
    );
    // A hidden link hides everything read through it.
    let doc = only("visits", "family");
    let through = TableAccess::resolve_with_readers(&doc, &visits, &[families.clone()], &person);
    let all = [
        "family",
        "family_status",
        "family_name",
        "family_shout",
        "families",
    ];
    assert_eq!(through.hidden, ids(&visits, &all));
    // A linked table the person may not read shows nothing: the link (it names the table's records) and
    // everything read through it are hidden.
    let unread = PermissionsDoc::parse(
        &json!({"roles": [{"key": "all", "name": "All", "who": {"everyone": true},
        "grants": [{"table": "visits", "actions": {"read": true}}]}]}),
    )
    .unwrap();
    let blind = TableAccess::resolve_with_readers(&unread, &visits, &[families.clone()], &person);
    assert_eq!(blind.hidden, ids(&visits, &all));
}
