//! App permissions and computed fields (issue #19): a formula, lookup or rollup whose value comes from
//! a field hidden from a member — in its own table, through a link from another table, or through
//! another computed field — is hidden from her too, on every path that hides fields: records, filters,
//! sorts, aggregates, exports, the access explanation, events and record history.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::member_token;
use crate::permissions::{Charity, charity, document, put};
use crate::records::urlencode;
use crate::{TestApp, api_tests};

const FAMILIES: &str = "/api/v1/apps/charity/tables/families";
const VISITS: &str = "/api/v1/apps/charity/tables/visits";
/// Read from `id_number`, hidden from volunteers: directly, through another formula, through a link.
const DERIVED: [&str; 5] = ["id_prefix", "id_tag", "family_id", "family_tag", "ids"];

/// Formulas on the families, a visits table linked to them with lookups and a rollup, one visit of F1;
/// the volunteers also read every visit. Answers the visit's id.
async fn computed(app: &TestApp, charity: &Charity) -> String {
    let token = &app.admin_token;
    for (name, key, formula) in [
        ("ID prefix", "id_prefix", "LEFT({ID number}, 2)"),
        ("ID tag", "id_tag", "CONCATENATE(\"#\", {ID prefix})"),
        ("Name tag", "name_tag", "CONCATENATE(\"#\", {Name})"),
    ] {
        let body =
            json!({"name": name, "key": key, "type": "formula", "options": {"formula": formula}});
        app.post(&format!("{FAMILIES}/fields"), token, body)
            .await
            .expect(StatusCode::CREATED);
    }
    let lookup = |name: &str, key: &str, read: &str| json!({"name": name, "key": key, "type": "lookup", "options": {"link": "family", "field": read}});
    app.post("/api/v1/apps/charity/tables", token, json!({"name": "Visits", "key": "visits", "fields": [
        {"name": "Note", "key": "note", "type": "text"},
        {"name": "Family", "key": "family", "type": "link", "options": {"table": "families", "multiple": false,
            "inverse_key": "visits", "inverse_name": "Visits"}},
        lookup("Family ID", "family_id", "id_number"),
        lookup("Family tag", "family_tag", "id_tag"),
        lookup("Family name", "family_name", "name"),
        {"name": "IDs", "key": "ids", "type": "rollup", "options": {"link": "family", "field": "id_number", "function": "concat"}}
    ]})).await.expect(StatusCode::CREATED);
    let visit = app
        .post(
            &format!("{VISITS}/records"),
            token,
            json!({"fields": {"note": "v1", "family": [charity.families[0]]}}),
        )
        .await;
    let visit = visit.expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut permissions = document(charity);
    permissions["roles"][0]["grants"]
        .as_array_mut()
        .unwrap()
        .push(json!({"table": "visits", "actions": {"read": true}, "fields": {"hidden": [], "read_only": []}}));
    put(app, permissions).await.expect(StatusCode::OK);
    visit
}

/// The derived fields `fields` (a record's, or an event side's) holds.
fn derived_in(fields: &Value) -> Vec<&'static str> {
    DERIVED
        .into_iter()
        .filter(|key| fields.get(*key).is_some())
        .collect()
}

api_tests! {
    async fn computed_fields_that_reveal_a_hidden_field_are_hidden_too(app) {
        let charity = charity(&app).await;
        let visit = computed(&app, &charity).await;
        let f1 = &charity.families[0];
        let a = member_token(&app, &charity.a).await;

        // The owner reads every computed field.
        let family = app.get(&format!("{FAMILIES}/records/{f1}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(family["fields"]["id_prefix"], "11", "{family}");
        assert_eq!(family["fields"]["id_tag"], "#11", "{family}");
        let owned = app.get(&format!("{VISITS}/records/{visit}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(owned["fields"]["family_id"], json!(["110"]), "{owned}");
        assert_eq!(owned["fields"]["family_tag"], json!(["#11"]), "{owned}");
        assert_eq!(owned["fields"]["ids"], "110", "{owned}");

        // A volunteer reads neither the ID number nor what is computed from it; the rest stays.
        let family = app.get(&format!("{FAMILIES}/records/{f1}"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(derived_in(&family["fields"]), Vec::<&str>::new(), "{family}");
        assert!(family["fields"].get("id_number").is_none(), "{family}");
        assert_eq!(family["fields"]["name_tag"], "#F1", "{family}");
        let visits = app.get(&format!("{VISITS}/records"), &a).await.expect(StatusCode::OK).clone();
        let seen = &visits["items"][0]["fields"];
        assert_eq!(derived_in(seen), Vec::<&str>::new(), "{visits}");
        assert_eq!(seen["family_name"], json!(["F1"]), "{visits}");
        let one = app.get(&format!("{VISITS}/records/{visit}"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(derived_in(&one["fields"]), Vec::<&str>::new(), "{one}");

        // Filters, sorts and aggregates on them are refused, not answered empty.
        let by = |field: &str, value: &str| urlencode(&json!({"field": field, "op": "eq", "value": value}).to_string());
        app.get(&format!("{FAMILIES}/records?filter={}", by("id_prefix", "11")), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.get(&format!("{FAMILIES}/records?sort=id_tag"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.get(&format!("{VISITS}/records?filter={}", by("ids", "110")), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        let condition = urlencode("{ID tag} = \"#11\"");
        app.get(&format!("{FAMILIES}/records?formula={condition}"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.get(&format!("{FAMILIES}/aggregate?group_by=id_prefix"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app.get(&format!("{VISITS}/aggregate?group_by=ids"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        // The owner may.
        let page = app.get(&format!("{VISITS}/records?filter={}", by("ids", "110")), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");

        // The export leaves them out; the explanation names them.
        let export = app.get(&format!("{FAMILIES}/export"), &a).await;
        let text = export.body.as_str().unwrap_or_default().to_owned();
        assert_eq!(export.status, StatusCode::OK, "{text}");
        assert!(text.contains("#F1") && !text.contains("ID prefix") && !text.contains("#11"), "{text}");
        let access = app.get(&format!("{FAMILIES}/access?member={}", charity.a), &app.admin_token).await.expect(StatusCode::OK).clone();
        let mut hidden: Vec<&str> = access["hidden"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        hidden.sort_unstable();
        assert_eq!(hidden, ["id_number", "id_prefix", "id_tag"], "{access}");
        app
    }

    async fn events_and_history_leave_out_what_reveals_a_hidden_field(app) {
        let charity = charity(&app).await;
        let visit = computed(&app, &charity).await;
        let f1 = &charity.families[0];
        let a = member_token(&app, &charity.a).await;
        app.patch(&format!("{FAMILIES}/records/{f1}"), &app.admin_token, json!({"fields": {"id_number": "990", "phone": "2"}})).await.expect(StatusCode::OK);
        app.patch(&format!("{VISITS}/records/{visit}"), &app.admin_token, json!({"fields": {"note": "v2"}})).await.expect(StatusCode::OK);

        let events = "/api/v1/events?types=record.*&page_size=1000";
        let sides = |page: &Value| -> Vec<Value> {
            page["items"].as_array().unwrap().iter()
                .flat_map(|event| [event["data"]["before"].clone(), event["data"]["after"].clone()])
                .collect()
        };
        let owner = app.get(events, &app.admin_token).await.expect(StatusCode::OK).clone();
        assert!(sides(&owner).iter().any(|side| derived_in(side).contains(&"id_prefix")), "{owner}");
        assert!(sides(&owner).iter().any(|side| derived_in(side).contains(&"family_id")), "{owner}");
        let mine = app.get(events, &a).await.expect(StatusCode::OK).clone();
        assert!(sides(&mine).iter().any(|side| side.get("note").is_some()), "her visits' events are shown: {mine}");
        for side in sides(&mine) {
            assert_eq!(derived_in(&side), Vec::<&str>::new(), "{side}");
        }
        for event in mine["items"].as_array().unwrap() {
            let changed = event["data"]["changed"].as_array().unwrap();
            assert!(DERIVED.iter().all(|key| !changed.contains(&json!(key))), "{event}");
        }

        let history = |token: String| {
            let app = &app;
            async move { app.get(&format!("{FAMILIES}/records/{f1}/history"), &token).await.expect(StatusCode::OK).clone() }
        };
        let changed = |page: &Value| -> Vec<String> {
            page["items"].as_array().unwrap().iter()
                .flat_map(|entry| entry["changes"].as_array().unwrap().iter())
                .map(|change| change["field"].as_str().unwrap().to_owned())
                .collect()
        };
        let owner = changed(&history(app.admin_token.clone()).await);
        for field in ["id_number", "id_prefix", "id_tag", "phone"] {
            assert!(owner.contains(&field.to_owned()), "{field} in {owner:?}");
        }
        let hers = changed(&history(a).await);
        assert!(hers.contains(&"phone".to_owned()), "{hers:?}");
        assert!(hers.iter().all(|field| field != "id_number" && !DERIVED.contains(&field.as_str())), "{hers:?}");
        app
    }

    async fn lookups_into_a_table_the_member_may_not_read_are_hidden(app) {
        let charity = charity(&app).await;
        let visit = computed(&app, &charity).await;
        // The volunteers keep their grant on the visits and lose the one on the families.
        let mut permissions = document(&charity);
        permissions["roles"][0]["grants"] = json!([
            {"table": "visits", "actions": {"read": true, "create": true}, "fields": {"hidden": [], "read_only": []}}
        ]);
        put(&app, permissions).await.expect(StatusCode::OK);
        let a = member_token(&app, &charity.a).await;
        app.get(&format!("{FAMILIES}/records"), &a).await.expect_error(StatusCode::FORBIDDEN, "action_forbidden");

        // Nothing of the families shows through the visits: not the link (it names the family), not its
        // lookups and rollup; the visit's own fields stay.
        let one = app.get(&format!("{VISITS}/records/{visit}"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(derived_in(&one["fields"]), Vec::<&str>::new(), "{one}");
        assert!(one["fields"].get("family_name").is_none() && one["fields"].get("family").is_none(), "{one}");
        assert_eq!(one["fields"]["note"], "v1", "{one}");
        app.post(&format!("{VISITS}/records"), &a, json!({"fields": {"note": "v2", "family": [charity.families[0]]}}))
            .await
            .expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        let by = urlencode(&json!({"field": "family_name", "op": "is_not_empty"}).to_string());
        app.get(&format!("{VISITS}/records?filter={by}"), &a).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        let access = app.get(&format!("{VISITS}/access?member={}", charity.a), &app.admin_token).await.expect(StatusCode::OK).clone();
        let mut hidden: Vec<&str> = access["hidden"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        hidden.sort_unstable();
        assert_eq!(hidden, ["family", "family_id", "family_name", "family_tag", "ids"], "{access}");

        // The owner still reads them.
        let owned = app.get(&format!("{VISITS}/records/{visit}"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(owned["fields"]["family_name"], json!(["F1"]), "{owned}");
        app
    }
    async fn expanded_links_show_only_the_linked_rows_and_fields_the_member_may_read(app) {
        let charity = charity(&app).await;
        let v1 = computed(&app, &charity).await;
        let (f1, f3) = (&charity.families[0], &charity.families[2]);
        let v3 = app.post(&format!("{VISITS}/records"), &app.admin_token, json!({"fields": {"note": "v3", "family": [f3]}})).await;
        let v3 = v3.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        let a = member_token(&app, &charity.a).await;
        let linked = |visit: &Value| visit["fields"]["family"][0].clone();

        // The owner: both families in full, the ID number included.
        let all = app.get(&format!("{VISITS}/records?expand=family&sort=note"), &app.admin_token).await.expect(StatusCode::OK).clone();
        assert_eq!(linked(&all["items"][0])["record"]["fields"]["id_number"], "110", "{all}");
        assert_eq!(linked(&all["items"][1])["record"]["fields"]["name"], "F3", "{all}");

        // A reads every visit, but of the families only F1 (hers) and never the ID number: F1 is
        // expanded without it, F3 keeps its link item and no record — in a list and in a get.
        let page = app.get(&format!("{VISITS}/records?expand=family&sort=note"), &a).await.expect(StatusCode::OK).clone();
        let (mine, theirs) = (linked(&page["items"][0]), linked(&page["items"][1]));
        assert_eq!((mine["id"].as_str(), theirs["id"].as_str()), (Some(f1.as_str()), Some(f3.as_str())), "{page}");
        assert_eq!(mine["record"]["fields"]["name"], "F1", "{page}");
        for hidden in ["id_number", "id_prefix", "id_tag"] {
            assert!(mine["record"]["fields"].get(hidden).is_none(), "{hidden}: {page}");
        }
        assert!(theirs.get("record").is_none(), "{page}");
        let one = app.get(&format!("{VISITS}/records/{v3}?expand=family"), &a).await.expect(StatusCode::OK).clone();
        assert!(linked(&one).get("record").is_none(), "{one}");
        let own = app.get(&format!("{VISITS}/records/{v1}?expand=family"), &a).await.expect(StatusCode::OK).clone();
        assert_eq!(linked(&own)["record"]["fields"]["name"], "F1", "{own}");
        assert!(linked(&own)["record"]["fields"].get("id_number").is_none(), "{own}");

        // A member in no role of the families reads the visits but no family through them.
        let mut permissions = document(&charity);
        permissions["roles"][0]["grants"].as_array_mut().unwrap().push(json!({"table": "visits", "actions": {"read": true}}));
        permissions["roles"].as_array_mut().unwrap().push(json!({"key": "visitors", "name": "Visitors",
            "who": {"members": [charity.outsider]}, "grants": [{"table": "visits", "actions": {"read": true}}]}));
        put(&app, permissions).await.expect(StatusCode::OK);
        let outsider = member_token(&app, &charity.outsider).await;
        let seen = app.get(&format!("{VISITS}/records?sort=note"), &outsider).await.expect(StatusCode::OK).clone();
        assert_eq!(seen["items"].as_array().unwrap().len(), 2, "{seen}");
        assert!(seen["items"][0]["fields"].get("family").is_none(), "the link to a table she may not read is hidden: {seen}");
        app.get(&format!("{VISITS}/records?expand=family"), &outsider).await.expect_error(StatusCode::FORBIDDEN, "field_forbidden");
        app
    }
}
