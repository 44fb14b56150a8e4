//! A small property test of app permissions (issue #19): random row rules (from a grammar of the rule
//! forms), random data and members; every read path (list with a filter, sort and pages, `total`, get by
//! id, aggregate, export) answers exactly the records evaluating the rule in Rust allows, and updates are
//! refused exactly when the rule refuses them. Seeded, few cases, both backends.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::{TestApp, api_tests, member_body};

const RECORDS: &str = "/api/v1/apps/prop/tables/items/records";

/// A deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

#[derive(Debug, Clone)]
struct Person {
    id: String,
    /// Index into the departments.
    department: Option<usize>,
    finance: bool,
}

#[derive(Debug, Clone)]
struct Item {
    id: String,
    name: String,
    owner: Option<usize>,
    department: Option<usize>,
    status: &'static str,
    amount: i64,
}

/// Departments: 0 is the parent of 1; 2 stands alone.
fn under(department: usize, root: usize) -> bool {
    department == root || (root == 0 && department == 1)
}

#[derive(Debug, Clone)]
enum Rule {
    Owner,
    NotArchived,
    InDepartment(bool),
    Finance,
    AmountAtLeast(i64),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
    Not(Box<Rule>),
}

impl Rule {
    fn random(rng: &mut Rng, depth: u32) -> Rule {
        let pick = if depth == 0 { rng.next(5) } else { rng.next(8) };
        match pick {
            0 => Rule::Owner,
            1 => Rule::NotArchived,
            2 => Rule::InDepartment(rng.next(2) == 0),
            3 => Rule::Finance,
            4 => Rule::AmountAtLeast([0, 5, 10][rng.next(3)]),
            5 => Rule::And(
                Box::new(Rule::random(rng, depth - 1)),
                Box::new(Rule::random(rng, depth - 1)),
            ),
            6 => Rule::Or(
                Box::new(Rule::random(rng, depth - 1)),
                Box::new(Rule::random(rng, depth - 1)),
            ),
            _ => Rule::Not(Box::new(Rule::random(rng, depth - 1))),
        }
    }

    fn text(&self) -> String {
        match self {
            Rule::Owner => "{owner} = CURRENT_MEMBER()".into(),
            Rule::NotArchived => "{status} != \"archived\"".into(),
            Rule::InDepartment(sub) => format!(
                "IN_DEPARTMENT({{dept}}, CURRENT_DEPARTMENTS(), {})",
                if *sub { "TRUE" } else { "FALSE" }
            ),
            Rule::Finance => "HAS_ROLE(\"finance\")".into(),
            Rule::AmountAtLeast(n) => format!("{{amount}} >= {n}"),
            Rule::And(a, b) => format!("AND({}, {})", a.text(), b.text()),
            Rule::Or(a, b) => format!("OR({}, {})", a.text(), b.text()),
            Rule::Not(a) => format!("NOT({})", a.text()),
        }
    }

    fn allows(&self, person: &Person, me: usize, item: &Item) -> bool {
        match self {
            Rule::Owner => item.owner == Some(me),
            Rule::NotArchived => item.status != "archived",
            Rule::InDepartment(sub) => match (person.department, item.department) {
                (Some(mine), Some(theirs)) => {
                    if *sub {
                        under(theirs, mine)
                    } else {
                        theirs == mine
                    }
                }
                _ => false,
            },
            Rule::Finance => person.finance,
            Rule::AmountAtLeast(n) => item.amount >= *n,
            Rule::And(a, b) => a.allows(person, me, item) && b.allows(person, me, item),
            Rule::Or(a, b) => a.allows(person, me, item) || b.allows(person, me, item),
            Rule::Not(a) => !a.allows(person, me, item),
        }
    }
}

async fn world(app: &TestApp, rng: &mut Rng) -> (Vec<Person>, Vec<String>, Vec<Item>) {
    let token = &app.admin_token;
    let top = app
        .post("/api/v1/departments", token, json!({"name": "Top"}))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let child = app
        .post(
            "/api/v1/departments",
            token,
            json!({"name": "Child", "parent_id": top}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app
        .post("/api/v1/departments", token, json!({"name": "Other"}))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let departments = vec![top, child, other];
    let mut people = Vec::new();
    for i in 0..3 {
        let department = [Some(0), Some(1), Some(2), None][rng.next(4)];
        let mut body = member_body(&format!("P{i}"));
        body["department_ids"] = json!(
            department
                .map(|d| vec![departments[d].clone()])
                .unwrap_or_default()
        );
        let id = app
            .post("/api/v1/members", token, body)
            .await
            .expect(StatusCode::CREATED)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        people.push(Person {
            id,
            department,
            finance: rng.next(3) == 0,
        });
    }
    let finance: Vec<&str> = people
        .iter()
        .filter(|p| p.finance)
        .map(|p| p.id.as_str())
        .collect();
    app.post(
        "/api/v1/roles",
        token,
        json!({"key": "finance", "name": "财务", "member_ids": finance}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps",
        token,
        json!({"name": "Prop", "key": "prop"}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/api/v1/apps/prop/tables",
        token,
        json!({"name": "Items", "key": "items", "fields": [
            {"name": "Name", "key": "name", "type": "text"},
            {"name": "Owner", "key": "owner", "type": "member"},
            {"name": "Dept", "key": "dept", "type": "department"},
            {"name": "Status", "key": "status", "type": "text"},
            {"name": "Amount", "key": "amount", "type": "number"},
            {"name": "Secret", "key": "secret", "type": "text"}
        ]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let mut items = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..8 {
        let item = Item {
            id: String::new(),
            name: format!("I{i}"),
            owner: [Some(0), Some(1), Some(2), None][rng.next(4)],
            department: [Some(0), Some(1), Some(2), None][rng.next(4)],
            status: ["open", "archived", ""][rng.next(3)],
            amount: rng.next(15) as i64,
        };
        let mut fields = json!({"name": item.name, "amount": item.amount, "secret": "s"});
        if !item.status.is_empty() {
            // An empty status: `!=` and NOT must still hold for it (SQL's NULL is not false).
            fields["status"] = json!(item.status);
        }
        if let Some(owner) = item.owner {
            fields["owner"] = json!(people[owner].id);
        }
        if let Some(department) = item.department {
            fields["dept"] = json!(departments[department]);
        }
        bodies.push(json!({"fields": fields}));
        items.push(item);
    }
    let created = app
        .post(RECORDS, token, json!({"records": bodies}))
        .await
        .expect(StatusCode::CREATED)
        .clone();
    for (item, record) in items.iter_mut().zip(created["records"].as_array().unwrap()) {
        item.id = record["id"].as_str().unwrap().to_owned();
    }
    (people, departments, items)
}

/// A number field's value, as a JSON number or a decimal string.
fn number(value: &Value) -> i64 {
    value
        .as_i64()
        .or_else(|| {
            value
                .as_str()
                .and_then(|text| text.parse::<f64>().ok())
                .map(|n| n as i64)
        })
        .unwrap()
}

fn names(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|item| item["fields"]["name"].as_str().unwrap().to_owned())
        .collect()
}

api_tests! {
    async fn every_read_path_answers_what_the_rule_allows(app) {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (people, _departments, items) = world(&app, &mut rng).await;
        for round in 0..3 {
            let read = Rule::random(&mut rng, 2);
            let update = Rule::random(&mut rng, 1);
            let document = json!({"roles": [{"key": "all", "name": "All", "who": {"members": people.iter().map(|p| p.id.clone()).collect::<Vec<_>>()},
                "grants": [{"table": "items", "actions": {"read": read.text(), "update": update.text(), "export": true},
                    "fields": {"hidden": ["secret"], "read_only": []}}]}]});
            app.call(Method::PUT, "/api/v1/apps/prop/permissions", Some(&app.admin_token), Some(document)).await.expect(StatusCode::OK);
            for (me, person) in people.iter().enumerate() {
                let token = member_token(&app, &person.id).await;
                let expected: BTreeSet<String> = items.iter().filter(|item| read.allows(person, me, item)).map(|item| item.name.clone()).collect();
                let context = format!("round {round}, member {me} ({person:?}), read {}", read.text());
                // Pages of 3 sorted by amount, with the total.
                let mut seen = Vec::new();
                let mut cursor = String::new();
                loop {
                    let page = app.get(&format!("{RECORDS}?page_size=3&sort=-amount&count=true{cursor}"), &token).await.expect(StatusCode::OK).clone();
                    assert_eq!(page["total"], expected.len(), "{context}");
                    seen.extend(page["items"].as_array().unwrap().iter().cloned());
                    match page["next_cursor"].as_str() {
                        Some(next) => cursor = format!("&cursor={next}"),
                        None => break,
                    }
                }
                assert_eq!(names(&seen), expected, "{context}");
                assert!(seen.iter().all(|item| item["fields"].get("secret").is_none()), "{context}");
                let amounts: Vec<i64> = seen.iter().map(|item| number(&item["fields"]["amount"])).collect();
                assert!(amounts.windows(2).all(|pair| pair[0] >= pair[1]), "{context}: sorted");
                // A filter on top of the rule.
                let filter = crate::records::urlencode(&json!({"field": "status", "op": "eq", "value": "open"}).to_string());
                let open = app.get(&format!("{RECORDS}?filter={filter}&count=true"), &token).await.expect(StatusCode::OK).clone();
                let open_expected = items.iter().filter(|item| item.status == "open" && read.allows(person, me, item)).count();
                assert_eq!(open["total"], open_expected, "{context}: filtered");
                // The aggregate.
                let groups = app.get("/api/v1/apps/prop/tables/items/aggregate?metrics=count", &token).await.expect(StatusCode::OK).clone();
                let counted = groups["groups"].as_array().unwrap().first().map_or(0, |group| group["count"].as_u64().unwrap());
                assert_eq!(counted as usize, expected.len(), "{context}: aggregate");
                // The export: one line per row after the header.
                let export = app.get("/api/v1/apps/prop/tables/items/export", &token).await;
                let text = export.body.as_str().unwrap_or_default().to_owned();
                assert_eq!(text.lines().count(), expected.len() + 1, "{context}: export");
                // Get by id and update, record by record.
                for item in &items {
                    let allowed = read.allows(person, me, item);
                    let one = app.get(&format!("{RECORDS}/{}", item.id), &token).await;
                    assert_eq!(one.status == StatusCode::OK, allowed, "{context}: get {}", item.name);
                    // Renaming keeps every field the rules read, so before and after agree.
                    let write = app.patch(&format!("{RECORDS}/{}", item.id), &token, json!({"fields": {"name": item.name}})).await;
                    assert_eq!(write.status == StatusCode::OK, update.allows(person, me, item), "{context}: update {} with {}", item.name, update.text());
                }
            }
        }
        app
    }
}
