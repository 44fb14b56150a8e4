//! The shipped templates' permissions (issue #19): importing a template creates the custom roles its
//! `permissions:` names (empty), and plain members then see their own rows while the role holders see
//! every row; the charity's volunteers do not get the families' ID and phone numbers.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::{TestApp, api_tests, clock_start, member_body};

async fn import(app: &TestApp, file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../templates")
        .join(file);
    let response = app
        .http
        .post(format!("{}/api/v1/apps/import", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/yaml")
        .body(std::fs::read(path).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{file}");
    response.json().await.unwrap()
}

async fn member(app: &TestApp, name: &str) -> String {
    app.post("/api/v1/members", &app.admin_token, member_body(name))
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The template created the custom role empty; the admin puts `holder` in it.
async fn grant_role(app: &TestApp, role: &str, holder: &str) {
    let path = format!("/api/v1/roles/{role}");
    let found = app
        .get(&path, &app.admin_token)
        .await
        .expect(StatusCode::OK)
        .clone();
    assert_eq!(found["member_ids"], json!([]), "{found}");
    app.patch(&path, &app.admin_token, json!({"member_ids": [holder]}))
        .await
        .expect(StatusCode::OK);
}

/// The values of `field` of a page, sorted.
fn column(page: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item["fields"][field]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    out.sort();
    out
}

api_tests! {
    async fn crm_owners_see_their_customers_and_the_sales_manager_sees_all(app) {
        let imported = import(&app, "crm.yaml").await;
        let steps = imported["steps"].to_string();
        assert!(steps.contains("create the custom role sales_manager"), "{steps}");
        let a = member(&app, "A").await;
        let b = member(&app, "B").await;
        let manager = member(&app, "M").await;
        grant_role(&app, "sales_manager", &manager).await;
        let customers = "/api/v1/apps/crm/tables/customers/records";
        let created = app.post(customers, &app.admin_token, json!({"records": [
            {"fields": {"name": "Alpha", "phone": "13900000001", "owner": a}},
            {"fields": {"name": "Beta", "phone": "13900000002", "owner": b}}
        ]})).await;
        let ids: Vec<String> = created.expect(StatusCode::CREATED)["records"].as_array().unwrap().iter().map(|record| record["id"].as_str().unwrap().to_owned()).collect();

        let a_token = member_token(&app, &a).await;
        let b_token = member_token(&app, &b).await;
        let manager_token = member_token(&app, &manager).await;
        assert_eq!(column(app.get(customers, &a_token).await.expect(StatusCode::OK), "name"), ["Alpha"]);
        assert_eq!(column(app.get(customers, &b_token).await.expect(StatusCode::OK), "name"), ["Beta"]);
        assert_eq!(column(app.get(customers, &manager_token).await.expect(StatusCode::OK), "name"), ["Alpha", "Beta"]);
        app.get(&format!("{customers}/{}", ids[1]), &a_token).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        // A member's new customer is their own.
        app.post(customers, &a_token, json!({"fields": {"name": "Gamma", "phone": "13900000003", "owner": b}})).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        app.post(customers, &a_token, json!({"fields": {"name": "Gamma", "phone": "13900000003", "owner": a}})).await.expect(StatusCode::CREATED);
        assert_eq!(column(app.get(customers, &a_token).await.expect(StatusCode::OK), "name"), ["Alpha", "Gamma"]);
        // Orders follow their salesperson; only the manager exports.
        let orders = "/api/v1/apps/crm/tables/orders/records";
        app.post(orders, &app.admin_token, json!({"fields": {"customer": [ids[0]], "title": "Deal A", "amount": "100", "sales": a}})).await.expect(StatusCode::CREATED);
        assert_eq!(column(app.get(orders, &a_token).await.expect(StatusCode::OK), "title"), ["Deal A"]);
        assert_eq!(app.get(&format!("{orders}?count=true"), &b_token).await.expect(StatusCode::OK)["total"], 0);
        app.get("/api/v1/apps/crm/tables/customers/export", &a_token).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");
        assert_eq!(app.get("/api/v1/apps/crm/tables/customers/export", &manager_token).await.status, StatusCode::OK);
        app
    }

    async fn expenses_members_see_their_claims_and_finance_sees_all(app) {
        import(&app, "expenses.yaml").await;
        let a = member(&app, "A").await;
        let b = member(&app, "B").await;
        let finance = member(&app, "F").await;
        grant_role(&app, "finance", &finance).await;
        let claims = "/api/v1/apps/expenses/tables/claims/records";
        let spent_on = (clock_start().date_naive() - chrono::Duration::days(2)).to_string();
        let claim = |claimant: &str, purpose: &str| json!({"fields": {"claimant": claimant, "category": "差旅 Travel", "purpose": purpose, "spent_on": spent_on, "unit_price": "100", "quantity": 1}});
        let a_token = member_token(&app, &a).await;
        let b_token = member_token(&app, &b).await;
        let finance_token = member_token(&app, &finance).await;
        app.post(claims, &a_token, claim(&b, "not mine")).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        let mut approved = claim(&a, "self-approved");
        approved["fields"]["status"] = json!("approved");
        app.post(claims, &a_token, approved).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        let mine = app.post(claims, &a_token, claim(&a, "train A")).await.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        app.post(claims, &b_token, claim(&b, "train B")).await.expect(StatusCode::CREATED);

        assert_eq!(column(app.get(claims, &a_token).await.expect(StatusCode::OK), "purpose"), ["train A"]);
        assert_eq!(column(app.get(claims, &b_token).await.expect(StatusCode::OK), "purpose"), ["train B"]);
        assert_eq!(column(app.get(claims, &finance_token).await.expect(StatusCode::OK), "purpose"), ["train A", "train B"]);
        assert_eq!(app.get(&format!("{claims}?count=true"), &app.admin_token).await.expect(StatusCode::OK)["total"], 2);
        // The approval fields are finance's; once approved the claimant no longer changes the claim.
        let path = format!("{claims}/{mine}");
        app.patch(&path, &a_token, json!({"fields": {"status": "approved"}})).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.patch(&path, &finance_token, json!({"fields": {"status": "approved", "approver": finance}})).await.expect(StatusCode::OK);
        app.patch(&path, &a_token, json!({"fields": {"purpose": "train A, return"}})).await.expect_error(StatusCode::FORBIDDEN, "row_forbidden");
        assert_eq!(app.get(&path, &a_token).await.expect(StatusCode::OK)["fields"]["status"], "approved");
        // Budgets: everyone reads them (to pick one), finance manages them.
        let budgets = "/api/v1/apps/expenses/tables/budgets/records";
        let budget = json!({"fields": {"name": "Travel", "starts_on": spent_on, "ends_on": spent_on, "amount": "1000"}});
        app.post(budgets, &a_token, budget.clone()).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");
        app.post(budgets, &finance_token, budget).await.expect(StatusCode::CREATED);
        assert_eq!(column(app.get(budgets, &b_token).await.expect(StatusCode::OK), "name"), ["Travel"]);
        app
    }

    async fn charity_volunteers_do_not_get_id_and_phone_numbers(app) {
        import(&app, "charity-housing.yaml").await;
        let volunteer = member(&app, "V").await;
        let coordinator = member(&app, "C").await;
        grant_role(&app, "housing_coordinator", &coordinator).await;
        let bookings = "/api/v1/apps/charity_housing/tables/bookings/records";
        let booking = app.post(bookings, &app.admin_token, json!({"fields": {"guest": "家属1", "check_in": "2026-11-24", "phone": "13900001111", "id_number": "110101199001011234"}})).await;
        let id = booking.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();

        let volunteer_token = member_token(&app, &volunteer).await;
        let page = app.get(&format!("{bookings}?count=true"), &volunteer_token).await.expect(StatusCode::OK).clone();
        assert_eq!(page["total"], 1);
        let fields = &page["items"][0]["fields"];
        assert_eq!(fields["guest"], "家属1");
        assert!(fields.get("id_number").is_none() && fields.get("phone").is_none(), "{fields}");
        let one = app.get(&format!("{bookings}/{id}"), &volunteer_token).await.expect(StatusCode::OK).clone();
        assert!(one["fields"].get("id_number").is_none() && one["fields"].get("phone").is_none());
        app.get(&format!("{bookings}?sort=phone"), &volunteer_token).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        // The volunteer takes the family on (nobody's yet), but cannot write the hidden fields.
        app.patch(&format!("{bookings}/{id}"), &volunteer_token, json!({"fields": {"phone": "13900002222"}})).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.patch(&format!("{bookings}/{id}"), &volunteer_token, json!({"fields": {"volunteer": volunteer}})).await.expect(StatusCode::OK);

        let coordinator_token = member_token(&app, &coordinator).await;
        let one = app.get(&format!("{bookings}/{id}"), &coordinator_token).await.expect(StatusCode::OK).clone();
        assert_eq!(one["fields"]["id_number"], "110101199001011234");
        assert_eq!(one["fields"]["phone"], "13900001111");
        app
    }

    async fn duty_attendance_class_teachers_see_their_class(app) {
        import(&app, "duty-attendance.yaml").await;
        let t1 = member(&app, "T1").await;
        let t2 = member(&app, "T2").await;
        let classes = "/api/v1/apps/duty_attendance/tables/classes/records";
        let roster = "/api/v1/apps/duty_attendance/tables/roster/records";
        app.post(classes, &app.admin_token, json!({"records": [
            {"fields": {"class": "一班", "teacher": t1}},
            {"fields": {"class": "二班", "teacher": t2}}
        ]})).await.expect(StatusCode::CREATED);
        app.post(roster, &app.admin_token, json!({"records": [
            {"fields": {"student": "小明", "week": 1, "class_teacher": t1}},
            {"fields": {"student": "小红", "week": 1, "class_teacher": t2}}
        ]})).await.expect(StatusCode::CREATED);
        let t1_token = member_token(&app, &t1).await;
        assert_eq!(column(app.get(classes, &t1_token).await.expect(StatusCode::OK), "class"), ["一班"]);
        assert_eq!(column(app.get(roster, &t1_token).await.expect(StatusCode::OK), "student"), ["小明"]);
        app
    }
}
