//! App permissions and files (issue #19): a file held in an attachment field hidden from a member, or in a
//! row her read rule leaves out, or in a table she may not read, is not served to her
//! (`GET /api/v1/attachments/{id}` answers 404, as for a file that does not exist); owners and admins get
//! every file, and files no limited place holds are served as before.

use reqwest::StatusCode;
use serde_json::json;

use crate::approvals::member_token;
use crate::permissions::{charity, document, put};
use crate::{TestApp, api_tests};

const FAMILIES: &str = "/api/v1/apps/charity/tables/families";

/// Uploads `bytes` as the owner; answers the attachment's id.
async fn upload(app: &TestApp, bytes: &'static [u8]) -> String {
    let response = app
        .http
        .post(format!("{}/api/v1/attachments?filename=f.png", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "image/png")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// The status of a download of `file` with `token`, and the bytes when it is served.
async fn download(app: &TestApp, token: &str, file: &str) -> (StatusCode, Vec<u8>) {
    let response = app
        .http
        .get(format!("{}/api/v1/attachments/{file}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}

api_tests! {
    async fn a_hidden_fields_files_are_not_served_to_the_members_it_is_hidden_from(app) {
        let charity = charity(&app).await;
        let token = &app.admin_token;
        for (name, key) in [("ID scan", "id_scan"), ("Photo", "photo")] {
            app.post(&format!("{FAMILIES}/fields"), token, json!({"name": name, "key": key, "type": "attachment"}))
                .await
                .expect(StatusCode::CREATED);
        }
        // F1 is volunteer A's; F3 is B's, outside A's read rule.
        let (f1, f3) = (&charity.families[0], &charity.families[2]);
        let scan = upload(&app, b"scan of F1's ID card").await;
        let photo = upload(&app, b"photo of F1").await;
        let other = upload(&app, b"photo of F3").await;
        let loose = upload(&app, b"in no record").await;
        app.patch(&format!("{FAMILIES}/records/{f1}"), token, json!({"fields": {"id_scan": [scan], "photo": [photo]}}))
            .await
            .expect(StatusCode::OK);
        app.patch(&format!("{FAMILIES}/records/{f3}"), token, json!({"fields": {"photo": [other]}}))
            .await
            .expect(StatusCode::OK);
        let a = member_token(&app, &charity.a).await;
        let outsider = member_token(&app, &charity.outsider).await;

        // Without permissions every member gets every file, as before.
        assert_eq!(download(&app, &a, &scan).await, (StatusCode::OK, b"scan of F1's ID card".to_vec()));
        assert_eq!(download(&app, &outsider, &other).await.0, StatusCode::OK);

        let mut permissions = document(&charity);
        permissions["roles"][0]["grants"][0]["fields"]["hidden"] = json!(["id_number", "id_scan"]);
        put(&app, permissions.clone()).await.expect(StatusCode::OK);

        // A reads F1 with its photo, not its ID scan; her read rule leaves F3 out.
        let record = app.get(&format!("{FAMILIES}/records/{f1}"), &a).await.expect(StatusCode::OK).clone();
        assert!(record["fields"].get("id_scan").is_none(), "{record}");
        assert_eq!(record["fields"]["photo"][0]["id"], json!(photo), "{record}");
        assert_eq!(download(&app, &a, &photo).await, (StatusCode::OK, b"photo of F1".to_vec()));
        // Refused exactly as a file that does not exist is.
        let (status, refused) = download(&app, &a, &scan).await;
        let (_, missing) = download(&app, &a, "0190a1b2-0000-7000-8000-000000000000").await;
        let code = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap()["error"]["code"].clone();
        assert_eq!((status, code(&refused)), (StatusCode::NOT_FOUND, code(&missing)));
        assert_eq!(code(&missing), json!("not_found"));
        assert_eq!(download(&app, &a, &other).await.0, StatusCode::NOT_FOUND);
        assert_eq!(download(&app, &a, &loose).await.0, StatusCode::OK);
        // A member in no role may not read the families at all.
        for file in [&scan, &photo, &other] {
            assert_eq!(download(&app, &outsider, file).await.0, StatusCode::NOT_FOUND, "{file}");
        }
        assert_eq!(download(&app, &outsider, &loose).await.0, StatusCode::OK);
        // The owner gets every file.
        for file in [&scan, &photo, &other, &loose] {
            assert_eq!(download(&app, token, file).await.0, StatusCode::OK, "{file}");
        }

        // Moving F3 to A makes its photo hers; showing the ID scan again serves it.
        app.patch(&format!("{FAMILIES}/records/{f3}"), token, json!({"fields": {"volunteer": charity.a}}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(download(&app, &a, &other).await, (StatusCode::OK, b"photo of F3".to_vec()));
        permissions["roles"][0]["grants"][0]["fields"]["hidden"] = json!(["id_number"]);
        put(&app, permissions).await.expect(StatusCode::OK);
        assert_eq!(download(&app, &a, &scan).await.0, StatusCode::OK);
        app
    }
}
