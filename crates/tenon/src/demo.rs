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
    let mut member_ids = Vec::with_capacity(people.len());
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
        member_ids.push(member.id.to_string());
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
    let directory = DemoDirectory {
        members: member_ids,
        sales: sales.id.to_string(),
        east: east.id.to_string(),
        finance: finance.id.to_string(),
    };
    seed_apps(store, org.id, &directory).await?;
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

/// Who the demo's sample records refer to: member ids in the order of `seed`'s people (王芳, 李强, 赵敏,
/// 陈静, Tom Müller) and department ids.
struct DemoDirectory {
    members: Vec<String>,
    sales: String,
    east: String,
    finance: String,
}

impl DemoDirectory {
    fn member(&self, index: usize) -> serde_json::Value {
        self.members
            .get(index)
            .map_or(serde_json::Value::Null, |id| {
                serde_json::Value::from(id.as_str())
            })
    }
}

/// Imports the templates and fills a few records in every table, linked to each other and dated around
/// today, so that the views, rollups and formulas have something to show.
async fn seed_apps(store: &Store, org: OrgId, people: &DemoDirectory) -> Result<(), Failure> {
    use chrono::{Datelike, Duration, NaiveDate};
    use serde_json::json;
    use tenon_exchange::definition::{self, FileFormat};
    use tenon_model::apps::ParseContext;
    use tenon_model::apps::definition::plan;
    let tenant = store.tenant(org);
    let ctx = WriteContext::system();
    let parse = ParseContext {
        org_time_zone: TimeZone::SHANGHAI,
    };
    let failure = |error: tenon_exchange::ExchangeError| {
        Failure::new(EXIT_FAILURE, format!("demo template: {error}"))
    };
    let mut installed = Vec::with_capacity(TEMPLATES.len());
    for text in TEMPLATES {
        let file = definition::read(text, FileFormat::Yaml).map_err(failure)?;
        let permissions = file.permissions.clone();
        // Imported as `tenon app import` would: the CRM's voucher rule creates 主账套, the book its
        // dashboard's ledger widgets read, and its flow books the won orders seeded below.
        let approvals = definition::approvals(&file).map_err(failure)?;
        let flows = definition::flows(&file).map_err(failure)?;
        let wanted = definition::check(file).map_err(failure)?;
        let steps = plan(&wanted, None);
        let app = tenant
            .apply_app_file(
                &ctx,
                &wanted,
                &steps,
                &parse,
                tenon_auth::mint_slug,
                &approvals,
                &flows,
            )
            .await?;
        installed.push((app, permissions));
    }
    let today = store
        .now()
        .with_timezone(&TimeZone::SHANGHAI.tz())
        .date_naive();
    let day = |offset: i64| {
        (today + Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let insert = |app: &'static str, table: &'static str, rows: Vec<serde_json::Value>| {
        insert_records(store, org, app, table, rows)
    };

    // Charity housing: rooms, and bookings in every state.
    let rooms = insert(
        "charity_housing",
        "rooms",
        vec![
            json!({"room": "A101", "beds": 2, "floor": 1, "accessible": true, "facilities": ["独立卫浴 Private bathroom", "空调 Air conditioning"]}),
            json!({"room": "A102", "beds": 3, "floor": 1, "facilities": ["空调 Air conditioning", "厨房 Kitchen"]}),
            json!({"room": "B201", "beds": 2, "floor": 2, "housekeeping": "待清洁 To clean"}),
        ],
    )
    .await?;
    insert(
        "charity_housing",
        "bookings",
        vec![
            json!({"guest": "张伟", "patient": "张小明", "relation": "父母 Parent", "hospital": "浙大儿童医院", "ward": "血液科", "phone": "13900001111", "id_number": "330106198805120017",
                   "check_in": day(-3), "nights": 10, "party_size": 2, "status": "staying", "room": [rooms[0]], "volunteer": people.member(2), "deposit": "200"}),
            json!({"guest": "陈丽", "patient": "王建国", "relation": "配偶 Spouse", "hospital": "浙大一院", "phone": "13900002222",
                   "check_in": day(-20), "nights": 7, "left_on": day(-13), "status": "left", "room": [rooms[1]]}),
            json!({"guest": "赵磊", "patient": "赵一一", "relation": "父母 Parent", "hospital": "浙大儿童医院", "phone": "13900003333",
                   "check_in": day(0), "nights": 3, "party_size": 2, "room": [rooms[1]]}),
            json!({"guest": "刘芳", "patient": "刘德明", "relation": "子女 Child", "hospital": "省肿瘤医院", "phone": "13900004444",
                   "check_in": day(2), "nights": 5, "notes": "需要无障碍房间 Needs an accessible room"}),
        ],
    )
    .await?;

    // Duty attendance: two classes and this week's roster (Monday to Friday).
    let classes = insert(
        "duty_attendance",
        "classes",
        vec![
            json!({"class": "三年二班", "grade": "三年级 Grade 3", "teacher": people.member(0)}),
            json!({"class": "四年一班", "grade": "四年级 Grade 4"}),
        ],
    )
    .await?;
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let week = monday.iso_week().week();
    let pupils = [
        ("小明", "扫地 Sweep"),
        ("小红", "擦黑板 Blackboard"),
        ("小刚", "倒垃圾 Rubbish"),
        ("小丽", "拖地 Mop"),
        ("小强", "擦窗户 Windows"),
    ];
    let mut roster = Vec::new();
    for (offset, (pupil, task)) in (0_i64..).zip(pupils) {
        let date: NaiveDate = monday + Duration::days(offset);
        let iso = date.format("%Y-%m-%d").to_string();
        let mut row = json!({"student": pupil, "class": [classes[usize::from(offset % 2 == 1)]], "week": week, "date": iso, "task": task});
        if offset % 2 == 0 {
            // 三年二班, whose class teacher is 王芳.
            row["class_teacher"] = people.member(0);
        }
        if date < today {
            if offset == 1 {
                row["status"] = json!("缺勤 Absent");
            } else {
                row["status"] = json!("已完成 Done");
                row["present"] = json!(true);
                row["checked_in_at"] = json!(format!("{iso}T07:{:02}", 20 + offset * 5));
                row["score"] = json!(4 + offset % 2);
                row["inspector"] = people.member(0);
            }
        }
        roster.push(row);
    }
    insert("duty_attendance", "roster", roster).await?;

    // CRM: customers with orders along the pipeline, and a lead from the web form. The won orders are
    // dated this month, so the dashboard's revenue this month and receivables show them once the voucher
    // rule's flow has booked them (the flow workers do as the server starts).
    let month_start = today.with_day(1).unwrap_or(today);
    let won_day = |offset: i64| {
        (today + Duration::days(offset))
            .max(month_start)
            .format("%Y-%m-%d")
            .to_string()
    };
    let customers = insert(
        "crm",
        "customers",
        vec![
            json!({"name": "湖州优品", "contact": "周经理", "phone": "0572-1234567", "level": 4, "lifecycle": "活跃 Active", "industry": "零售 Retail",
                   "city": "湖州", "owner": people.member(2), "last_contact": day(-45)}),
            json!({"name": "Ærø Weddings", "contact": "Freja", "email": "freja@example.com", "level": 3, "lifecycle": "潜在 Prospect", "industry": "服务 Services",
                   "city": "Ærøskøbing", "owner": people.member(1), "last_contact": day(-6)}),
        ],
    )
    .await?;
    insert(
        "crm",
        "orders",
        vec![
            json!({"customer": [customers[0]], "title": "门店收银系统", "products": ["标准版 Standard"], "amount": "1130.34", "stage": "won", "won_on": won_day(-5),
                   "sales": people.member(2), "department": people.east}),
            json!({"customer": [customers[0]], "title": "全渠道会员平台", "products": ["专业版 Professional", "实施服务 Implementation"], "amount": "88000", "stage": "negotiating",
                   "expected_close": day(7), "sales": people.member(2), "department": people.east}),
            json!({"customer": [customers[1]], "title": "Booking portal", "products": ["专业版 Professional", "培训 Training"], "amount": "25000", "stage": "quoted",
                   "expected_close": day(14), "sales": people.member(1), "department": people.sales}),
            json!({"customer": [customers[1]], "title": "Wedding planner app", "products": ["专业版 Professional"], "amount": "28800", "stage": "won", "won_on": won_day(-1),
                   "sales": people.member(1), "department": people.sales}),
            json!({"customer": [customers[1]], "title": "Annual support", "products": ["年度维保 Annual support"], "amount": "5000", "stage": "lost", "lost_reason": "价格 Price",
                   "sales": people.member(1), "department": people.sales}),
        ],
    )
    .await?;
    insert(
        "crm",
        "leads",
        vec![json!({"company": "杭州云帆科技", "contact": "陈先生", "email": "chen@example.com", "city": "杭州", "industry": "互联网 Internet",
                    "needs": "想了解专业版的价格和实施周期 Pricing and rollout of the Professional edition"})],
    )
    .await?;

    // Expenses: this quarter's travel budget and claims in every state.
    let quarter_start =
        NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1).unwrap_or(today);
    let quarter_end = NaiveDate::from_ymd_opt(
        quarter_start.year() + i32::from(quarter_start.month() == 10),
        if quarter_start.month() == 10 {
            1
        } else {
            quarter_start.month() + 3
        },
        1,
    )
    .map_or(today, |next| next - Duration::days(1));
    let budgets = insert(
        "expenses",
        "budgets",
        vec![json!({"name": format!("{} Q{} 销售部差旅 Sales travel", today.year(), today.month0() / 3 + 1), "department": people.sales,
                    "owner": people.member(1), "starts_on": quarter_start.format("%Y-%m-%d").to_string(),
                    "ends_on": quarter_end.format("%Y-%m-%d").to_string(), "amount": "20000"})],
    )
    .await?;
    insert(
        "expenses",
        "claims",
        vec![
            json!({"claimant": people.member(2), "department": people.east, "category": "交通 Transport", "purpose": "湖州客户拜访高铁票 Train to a customer in Huzhou",
                   "spent_on": day(-4), "unit_price": "73.50", "quantity": 2, "invoice_type": "电子行程单 E-ticket", "budget": [budgets[0]],
                   "status": "approved", "approver": people.member(1), "approved_on": day(-1)}),
            json!({"claimant": people.member(1), "department": people.sales, "category": "餐饮 Meals", "purpose": "客户午餐 Lunch with a customer",
                   "spent_on": day(-2), "unit_price": "168", "budget": [budgets[0]]}),
            json!({"claimant": people.member(3), "department": people.finance, "category": "办公 Office", "purpose": "打印纸 Printer paper",
                   "spent_on": day(-12), "unit_price": "45.50", "quantity": 2, "status": "paid", "approver": people.member(0), "approved_on": day(-10), "paid_on": day(-8)}),
            json!({"claimant": people.member(4), "category": "交通 Transport", "purpose": "Taxi to the airport",
                   "spent_on": day(-6), "unit_price": "86", "status": "rejected", "reject_reason": "已由差旅平台支付 Already paid through the travel platform"}),
        ],
    )
    .await?;
    seed_permissions(&tenant, &ctx, &installed, people).await?;
    Ok(())
}

/// The templates' permissions, with the custom roles they name held by the demo's people: 李强 manages
/// sales, 陈静 is finance, 王芳 coordinates the housing and is the academic office.
async fn seed_permissions(
    tenant: &tenon_store::Tenant<'_>,
    ctx: &WriteContext,
    installed: &[(tenon_model::apps::App, Option<serde_json::Value>)],
    people: &DemoDirectory,
) -> Result<(), Failure> {
    use tenon_model::apps::ApiKey;
    use tenon_model::apps::permissions::PermissionsDoc;
    let holders = [
        ("sales_manager", "销售经理 Sales manager", 1),
        ("finance", "财务 Finance", 3),
        ("housing_coordinator", "住房协调员 Housing coordinator", 0),
        ("duty_office", "教务处 Academic office", 0),
    ];
    for (key, title, index) in holders {
        let key = ApiKey::parse(key)
            .map_err(|reason| Failure::new(EXIT_FAILURE, format!("demo role {key}: {reason}")))?;
        let members: Vec<tenon_model::MemberId> = people
            .members
            .get(index)
            .and_then(|id| id.parse().ok())
            .into_iter()
            .collect();
        tenant
            .create_role(ctx, &key, &name(title)?, &members)
            .await?;
    }
    for (app, permissions) in installed {
        let Some(raw) = permissions else {
            continue;
        };
        let doc = PermissionsDoc::parse(raw).map_err(|invalid| {
            Failure::new(
                EXIT_FAILURE,
                format!("demo permissions of {}: {invalid}", app.key),
            )
        })?;
        tenant
            .set_app_permissions(ctx, app, Some(&doc.to_json()))
            .await?;
    }
    Ok(())
}

/// Creates records from `{"field key": value}` objects, as the records API would; returns their ids.
async fn insert_records(
    store: &Store,
    org: OrgId,
    app: &str,
    table: &str,
    rows: Vec<serde_json::Value>,
) -> Result<Vec<String>, Failure> {
    use tenon_model::apps::ParseContext;
    use tenon_model::apps::input::{WriteMode, parse_record_fields, present};
    let tenant = store.tenant(org);
    let parse = ParseContext {
        org_time_zone: TimeZone::SHANGHAI,
    };
    let schema = tenant.table_schema(app, table).await?;
    let mut cells = Vec::new();
    for row in rows {
        let fields = row.as_object().cloned().unwrap_or_default();
        let parsed = parse_record_fields(&schema, &fields, &parse, WriteMode::Create, "fields")
            .map_err(|errors| {
                Failure::new(
                    EXIT_FAILURE,
                    format!(
                        "demo record in {app}.{table}: {}",
                        tenon_model::Invalid(errors)
                    ),
                )
            })?;
        cells.push(present(parsed));
    }
    let outcome = tenant
        .create_records(
            &WriteContext::system(),
            &schema,
            cells,
            TimeZone::SHANGHAI,
            None,
        )
        .await?;
    let (tenon_store::WriteOutcome::Written(records)
    | tenon_store::WriteOutcome::Replayed(records)) = outcome;
    Ok(records.iter().map(|record| record.id.to_string()).collect())
}
