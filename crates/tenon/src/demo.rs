//! The demo organization `serve --demo` creates on first start: a small company with departments, members,
//! an admin login and an API token, so that a new user can click and curl at once.
//!
//! The generated credentials are kept in `<data>/demo-credentials.json` (readable by the owner only) and
//! printed at every start; the database keeps only their hashes.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tenon_auth::SecretKind;
use tenon_model::{
    DepartmentPatch, Email, Locale, Mobile, Name, NewDepartment, NewMember, OptionalText, OrgId,
    Password, Role, Scope, ScopeSet, TimeZone,
};
use tenon_store::{NewOrganization, NewToken, Store, StoreError, WriteContext};

use crate::commands::{EXIT_FAILURE, Failure, hash_password, owner};

const CREDENTIALS_FILE: &str = "demo-credentials.json";
const ADMIN_EMAIL: &str = "admin@demo.tenon.local";

#[derive(Debug, Serialize, Deserialize)]
struct DemoCredentials {
    organization_id: String,
    admin_email: String,
    admin_password: String,
    api_token: String,
}

/// Creates the demo organization unless it exists, then prints how to use it.
pub async fn ensure(store: &Store, data_dir: &Path, address: SocketAddr) -> Result<(), Failure> {
    let path = data_dir.join(CREDENTIALS_FILE);
    let existing = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<DemoCredentials>(&bytes).ok());
    let credentials = match existing {
        Some(credentials) if still_exists(store, &credentials.organization_id).await? => {
            credentials
        }
        _ => {
            let credentials = seed(store).await?;
            write_private(&path, &credentials)?;
            credentials
        }
    };
    println!("Demo organization: {}", credentials.organization_id);
    println!(
        "  admin login: {} / {}",
        credentials.admin_email, credentials.admin_password
    );
    println!("  API token:   {}", credentials.api_token);
    println!(
        "  try: curl -H 'Authorization: Bearer {}' http://{address}/api/v1/me",
        credentials.api_token
    );
    Ok(())
}

async fn still_exists(store: &Store, org_id: &str) -> Result<bool, Failure> {
    let Ok(id) = org_id.parse::<OrgId>() else {
        return Ok(false);
    };
    match store.tenant(id).organization().await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

fn name(text: &str) -> Result<Name, Failure> {
    Name::parse(text)
        .map_err(|reason| Failure::new(EXIT_FAILURE, format!("demo data: {text}: {reason}")))
}

async fn seed(store: &Store) -> Result<DemoCredentials, Failure> {
    let ctx = WriteContext::system();
    let password = tenon_auth::mint(SecretKind::Session)
        .plaintext
        .chars()
        .skip(4)
        .take(16)
        .collect::<String>();
    let password_hash = hash_password(
        Password::parse(&password)
            .map_err(|reason| Failure::new(EXIT_FAILURE, reason.to_string()))?,
    )
    .await?;
    let email = Email::parse(ADMIN_EMAIL)
        .map_err(|reason| Failure::new(EXIT_FAILURE, reason.to_string()))?;
    let (org, admin) = store
        .create_organization(
            &ctx,
            NewOrganization {
                name: name("示例科技 Demo Tech")?,
                time_zone: TimeZone::SHANGHAI,
                locale: Locale::ZhCn,
                owner: owner(name("管理员 Admin")?, email, password_hash),
            },
        )
        .await?;
    let tenant = store.tenant(org.id);
    let department = |title: &str, parent| -> Result<NewDepartment, Failure> {
        Ok(NewDepartment {
            name: name(title)?,
            parent_id: parent,
            sort_order: 0,
            head_ids: Vec::new(),
        })
    };
    let management = tenant
        .create_department(&ctx, department("总经办 Management", None)?)
        .await?;
    let sales = tenant
        .create_department(&ctx, department("销售部 Sales", None)?)
        .await?;
    let east = tenant
        .create_department(&ctx, department("华东区 East China", Some(sales.id))?)
        .await?;
    let finance = tenant
        .create_department(&ctx, department("财务部 Finance", None)?)
        .await?;
    let engineering = tenant
        .create_department(&ctx, department("研发部 Engineering", None)?)
        .await?;
    let people = [
        (
            "王芳",
            "wang.fang",
            "13800138001",
            "总经理 CEO",
            management.id,
            Role::Admin,
            true,
        ),
        (
            "李强",
            "li.qiang",
            "13800138002",
            "销售总监 Sales Director",
            sales.id,
            Role::Member,
            true,
        ),
        (
            "赵敏",
            "zhao.min",
            "13800138003",
            "客户经理 Account Manager",
            east.id,
            Role::Member,
            false,
        ),
        (
            "陈静",
            "chen.jing",
            "13800138004",
            "会计 Accountant",
            finance.id,
            Role::Member,
            true,
        ),
        (
            "Tom Müller",
            "tom.mueller",
            "+4915112345678",
            "Engineer",
            engineering.id,
            Role::Member,
            true,
        ),
    ];
    for (number, (person, mailbox, mobile, title, department_id, role, heads)) in
        people.into_iter().enumerate()
    {
        let member = tenant
            .create_member(
                &ctx,
                NewMember {
                    name: name(person)?,
                    email: Email::parse(&format!("{mailbox}@demo.tenon.local")).ok(),
                    mobile: Mobile::parse(mobile).ok(),
                    job_title: OptionalText::parse(title).unwrap_or(OptionalText::NONE),
                    employee_no: OptionalText::parse(&format!("E{:04}", number + 1))
                        .unwrap_or(OptionalText::NONE),
                    role,
                    department_ids: vec![department_id],
                    password_hash: None,
                },
            )
            .await?;
        if heads {
            tenant
                .update_department(
                    &ctx,
                    department_id,
                    DepartmentPatch {
                        head_ids: Some(vec![member.id]),
                        ..Default::default()
                    },
                )
                .await?;
        }
    }
    seed_apps(store, org.id).await?;
    let token = tenon_auth::mint(SecretKind::PersonalToken);
    tenant
        .create_token(
            &ctx,
            NewToken {
                name: name("Demo token")?,
                member_id: Some(admin.id),
                scopes: ScopeSet::of([Scope::Admin]),
                rate_limit: None,
                expires_at: None,
                digest: token.digest.0,
            },
        )
        .await?;
    Ok(DemoCredentials {
        organization_id: org.id.to_string(),
        admin_email: ADMIN_EMAIL.to_owned(),
        admin_password: password,
        api_token: token.plaintext,
    })
}

fn write_private(path: &Path, credentials: &DemoCredentials) -> Result<(), Failure> {
    let json = serde_json::to_vec_pretty(credentials)
        .map_err(|error| Failure::new(EXIT_FAILURE, error.to_string()))?;
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path)?.write_all(&json)
    };
    write().map_err(|error| {
        Failure::new(
            EXIT_FAILURE,
            format!("cannot write {}: {error}", path.display()),
        )
    })
}

/// The app templates the demo organization starts with (the same files as `templates/`).
const TEMPLATES: [&str; 4] = [
    include_str!("../../../templates/charity-housing.yaml"),
    include_str!("../../../templates/duty-attendance.yaml"),
    include_str!("../../../templates/crm.yaml"),
    include_str!("../../../templates/expenses.yaml"),
];

/// Imports the templates and fills a few records, so the API has something to show.
async fn seed_apps(store: &Store, org: OrgId) -> Result<(), Failure> {
    use tenon_exchange::definition::{self, FileFormat};
    use tenon_model::apps::ParseContext;
    use tenon_model::apps::definition::plan;
    use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
    let tenant = store.tenant(org);
    let ctx = WriteContext::system();
    let parse = ParseContext {
        org_time_zone: TimeZone::SHANGHAI,
    };
    let failure = |error: tenon_exchange::ExchangeError| {
        Failure::new(EXIT_FAILURE, format!("demo template: {error}"))
    };
    for text in TEMPLATES {
        let wanted = definition::check(definition::read(text, FileFormat::Yaml).map_err(failure)?)
            .map_err(failure)?;
        let steps = plan(&wanted, None);
        tenant
            .apply_definition(&ctx, &wanted, &steps, &parse, tenon_auth::mint_slug)
            .await?;
    }
    let samples: [(&str, &str, Vec<serde_json::Value>); 4] = [
        (
            "charity_housing",
            "rooms",
            vec![
                serde_json::json!({"room": "A101", "beds": 2, "floor": 1, "accessible": true}),
                serde_json::json!({"room": "A102", "beds": 3, "floor": 1}),
                serde_json::json!({"room": "B201", "beds": 2, "floor": 2}),
            ],
        ),
        (
            "duty_attendance",
            "classes",
            vec![
                serde_json::json!({"class": "三年二班"}),
                serde_json::json!({"class": "四年一班"}),
            ],
        ),
        (
            "crm",
            "customers",
            vec![
                serde_json::json!({"name": "湖州优品", "contact": "周经理", "phone": "0572-1234567", "level": 4}),
                serde_json::json!({"name": "Ærø Weddings", "contact": "Freja", "email": "freja@example.com", "level": 3}),
            ],
        ),
        (
            "crm",
            "orders",
            vec![
                serde_json::json!({"amount": "1130.34", "stage": "won", "won_on": "2026-11-20"}),
                serde_json::json!({"amount": "25000", "stage": "quoted"}),
            ],
        ),
    ];
    for (app, table, rows) in samples {
        let schema = tenant.table_schema(app, table).await?;
        let mut cells = Vec::new();
        for row in rows {
            let fields = row.as_object().cloned().unwrap_or_default();
            let parsed = parse_record_fields(&schema, &fields, &parse, WriteMode::Create, "fields")
                .map_err(|errors| {
                    Failure::new(
                        EXIT_FAILURE,
                        format!("demo record: {}", tenon_model::Invalid(errors)),
                    )
                })?;
            cells.push(present(parsed));
        }
        tenant
            .create_records(&ctx, &schema, cells, TimeZone::SHANGHAI, None)
            .await?;
    }
    Ok(())
}
