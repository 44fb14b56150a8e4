//! The public form's outside ways in (#19, #23): values the link prefills or fixes (a link field by the
//! linked record's primary value, the rooms table unseen), the success text naming the new record's
//! number, visitors' files (within the field's limits, usable only by their own submission) and the
//! upsert of a returning visitor's row.

use super::*;

/// Rooms, and requests linking a room, with a channel, a number, a photo and a unique phone.
async fn hostel(ui: &TestUi) {
    ui.api(
        Method::POST,
        "/api/v1/apps",
        Some(json!({"name": "青年旅舍", "key": "hostel"})),
    )
    .await;
    ui.api(
        Method::POST,
        "/api/v1/apps/hostel/tables",
        Some(json!({"name": "房间", "key": "rooms", "fields": [{"name": "房号", "key": "code", "type": "text"}]})),
    )
    .await;
    ui.api(
        Method::POST,
        "/api/v1/apps/hostel/tables/rooms/records",
        Some(json!({"records": [{"fields": {"code": "201"}}, {"fields": {"code": "202 海景"}}]})),
    )
    .await;
    ui.api(
        Method::POST,
        "/api/v1/apps/hostel/tables",
        Some(json!({"name": "预订", "key": "stays", "fields": [
            {"name": "姓名", "key": "guest", "type": "text", "required": true},
            {"name": "电话", "key": "phone", "type": "phone", "unique": true},
            {"name": "晚数", "key": "nights", "type": "number"},
            {"name": "渠道", "key": "channel", "type": "text"},
            {"name": "房间", "key": "room", "type": "link", "options": {"table": "rooms"}},
            {"name": "照片", "key": "photo", "type": "attachment", "options": {"max_size_mb": 1, "types": ["image/*"]}},
            {"name": "内部备注", "key": "note", "type": "text"},
            {"name": "编号", "key": "number", "type": "autonumber", "options": {"prefix": "R-", "digits": 4}}
        ]})),
    )
    .await;
}

/// A public form over the stays table; answers its slug.
async fn form(ui: &TestUi, config: Value) -> String {
    let mut config = config;
    config["public"] = json!(true);
    let view = ui
        .api(
            Method::POST,
            "/api/v1/apps/hostel/tables/stays/views",
            Some(json!({"name": "预订表", "type": "form", "config": config})),
        )
        .await;
    view["public_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

async fn stays(ui: &TestUi) -> Vec<Value> {
    let page = ui
        .api(
            Method::GET,
            "/api/v1/apps/hostel/tables/stays/records",
            None,
        )
        .await;
    page["items"].as_array().unwrap().clone()
}

/// The `action` of the page's form, unescaped.
fn action_of(page: &Page) -> String {
    let start = page
        .text
        .find("class=\"public-form\" method=\"post\" action=\"")
        .unwrap()
        + "class=\"public-form\" method=\"post\" action=\"".len();
    let end = start + page.text[start..].find('"').unwrap();
    unescape(&page.text[start..end])
}

/// An attribute's text as the browser reads it (the templates escape `&`, `/`, quotes).
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the page's hidden input `name`.
fn hidden_value(page: &Page, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name}: {}", page.text))
        + marker.len();
    let end = start + page.text[start..].find('"').unwrap();
    unescape(&page.text[start..end])
}

async fn post(ui: &TestUi, path: &str, content_type: &str, body: Vec<u8>) -> Page {
    let response = ui
        .http
        .post(format!("{}{path}", ui.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    Page {
        status,
        headers,
        text,
    }
}

async fn post_pairs(ui: &TestUi, path: &str, pairs: &[(&str, &str)]) -> Page {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    post(
        ui,
        path,
        "application/x-www-form-urlencoded",
        body.into_bytes(),
    )
    .await
}

/// A `multipart/form-data` post as a browser sends it: text parts, then files (field, name, type, bytes).
async fn post_multipart(
    ui: &TestUi,
    path: &str,
    pairs: &[(&str, &str)],
    files: &[(&str, &str, &str, Vec<u8>)],
) -> Page {
    let boundary = "----tenonFormBoundary7MA4YWxk";
    let mut body: Vec<u8> = Vec::new();
    for (name, value) in pairs {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, filename, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    post(
        ui,
        path,
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
    .await
}

/// A fresh page's proof of work, solved as its script would (page posts without one are limited to a
/// burst of 5 per address).
async fn proof(ui: &TestUi, path: &str) -> String {
    let page = ui.send(Method::GET, path, &[], None).await;
    let start = page
        .text
        .find("class=\"pow-challenge\">")
        .expect("a challenge")
        + "class=\"pow-challenge\">".len();
    let end = start + page.text[start..].find("</script>").unwrap();
    let challenge: tenon_server::pow::Challenge =
        serde_json::from_str(&page.text[start..end]).unwrap();
    tenon_server::pow::solve(&challenge).expect("solvable")
}

/// A page without its proof-of-work challenge (random hex, which may hold any digits).
fn shown(page: &str) -> String {
    match page.find("class=\"pow-challenge\">") {
        Some(start) => {
            let end = start
                + page[start..]
                    .find("</script>")
                    .unwrap_or(page.len() - start);
            format!("{}{}", &page[..start], &page[end..])
        }
        None => page.to_owned(),
    }
}

/// A tiny PNG's bytes (the type is what the browser says; the content is not inspected).
fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size.max(8), 0);
    bytes
}

ui_tests! {
    async fn a_link_prefills_allowed_fields_fixes_hidden_ones_and_ignores_the_rest(ui) {
        hostel(&ui).await;
        let slug = form(&ui, json!({
            "fields": [
                "guest",
                {"field": "nights", "prefill": true},
                {"field": "channel", "prefill": true, "hidden": true},
                {"field": "room", "prefill": true, "hidden": true}
            ],
            "success_message": "已收到，您的预订号是 {编号}。"
        })).await;
        let link = format!("/f/{slug}?channel=wechat&room=201&nights=3&note=vip&from=singlemessage");
        let page = ui.send(Method::GET, &link, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        // A shown field starts with the link's value; a hidden one is not an input.
        assert!(page.text.contains("value=\"3\""), "{}", page.text);
        assert!(!page.text.contains("name=\"channel\"") && !page.text.contains("name=\"room\""));
        // A field the owner did not allow is ignored, and the page says so; a messenger's tag is not a field.
        assert!(page.text.contains("此链接试图填写 note"), "{}", page.text);
        assert!(!page.text.contains("singlemessage,") && !page.text.contains("from,"));
        // The rooms table stays unseen: no other room is named (outside the proof-of-work challenge, whose
        // random hex may hold any digits).
        assert!(!shown(&page.text).contains("202"), "{}", page.text);

        // The post goes back to the link's address: the fixed values come from it, not from inputs.
        let action = action_of(&page);
        assert!(action.contains("channel=wechat") && action.contains("room=201"), "{action}");
        assert!(!action.contains("note="), "{action}");
        let done = post_pairs(&ui, &action, &[("guest", "王芳"), ("nights", "3"), ("channel", "forged")]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let written = stays(&ui).await;
        assert_eq!(written.len(), 1);
        let stay = &written[0]["fields"];
        assert_eq!(stay["channel"], "wechat", "{stay}");
        assert_eq!(stay["note"], Value::Null, "the ignored parameter wrote nothing: {stay}");
        let rooms = ui.api(Method::GET, "/api/v1/apps/hostel/tables/rooms/records", None).await;
        let room_201 = rooms["items"].as_array().unwrap().iter().find(|room| room["fields"]["code"] == "201").unwrap()["id"].clone();
        assert_eq!(stay["room"][0]["id"], room_201, "{stay}");
        // The success text names the new record's number.
        let number = stay["number"].as_str().unwrap();
        assert!(number.starts_with("R-"), "{stay}");
        assert!(done.text.contains(&format!("已收到，您的预订号是 {number}。")), "{}", done.text);

        // A link naming no room: refused with the reason, nothing written, no room listed.
        let wrong = ui.send(Method::GET, &format!("/f/{slug}?room=999&lang=en"), &[], None).await;
        let refused = post_pairs(&ui, &action_of(&wrong), &[("guest", "Ola")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert!(refused.text.contains("value=\"Ola\""), "the typed value is kept");
        assert!(!shown(&refused.text).contains("202"), "{}", refused.text);
        assert_eq!(stays(&ui).await.len(), 1);

        // The JSON API says which fields a link may give, takes them, and still refuses the others.
        let described = ui.send(Method::GET, &format!("/api/v1/forms/{slug}"), &[], None).await.json();
        assert_eq!(described["fixed_by_link"], json!(["channel", "room"]), "{described}");
        assert_eq!(described["fields"][1]["prefill"], true, "{described}");
        let api = ui.send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"guest": "Kari", "channel": "api", "room": "202 海景"}}))).await;
        assert_eq!(api.status, StatusCode::CREATED, "{}", api.text);
        assert!(api.json()["message"].as_str().unwrap().starts_with("已收到，您的预订号是 R-"));
        let sneaky = ui.send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"guest": "Eve", "note": "vip"}}))).await;
        assert_eq!(sneaky.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", sneaky.text);
        assert_eq!(stays(&ui).await.len(), 2);
        ui
    }

    async fn a_visitors_upload_is_checked_against_the_field_and_usable_only_by_its_own_submission(ui) {
        hostel(&ui).await;
        let slug = form(&ui, json!({"fields": ["guest", "photo"]})).await;
        let path = format!("/f/{slug}?lang=en");
        let page = ui.send(Method::GET, &path, &[], None).await;
        assert!(page.text.contains("enctype=\"multipart/form-data\""), "{}", page.text);
        assert!(page.text.contains("type=\"file\"") && page.text.contains("accept=\"image&#x2f;*\""));
        let key = hidden_value(&page, "submission");

        // Over the field's size, and of a type it does not take: refused, nothing stored or written.
        let big = post_multipart(&ui, &path, &[("guest", "Kari"), ("submission", &key)], &[("photo", "big.png", "image/png", png(1024 * 1024 + 1))]).await;
        assert_eq!(big.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", big.text);
        assert!(big.text.contains("value=\"Kari\""));
        assert!(!big.text.contains("public-file-kept"), "{}", big.text);
        let html = post_multipart(&ui, &path, &[("guest", "Kari"), ("submission", &key)], &[("photo", "x.html", "text/html", b"<script>alert(1)</script>".to_vec())]).await;
        assert_eq!(html.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", html.text);
        assert!(stays(&ui).await.is_empty());

        // Within the limits but the rest refused (no name): the file is kept for this submission.
        let kept = post_multipart(&ui, &path, &[("guest", ""), ("submission", &key)], &[("photo", "me.png", "image/png", png(2048))]).await;
        assert_eq!(kept.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", kept.text);
        assert!(kept.text.contains("me.png"), "{}", kept.text);
        let marker = "name=\"photo\" value=\"";
        let start = kept.text.find(marker).expect("the kept file") + marker.len();
        let upload = kept.text[start..start + 36].to_owned();
        assert!(stays(&ui).await.is_empty());

        // Another submission (another page's key) cannot use it.
        let other = ui.send(Method::GET, &path, &[], None).await;
        let other_key = hidden_value(&other, "submission");
        let stolen = post_multipart(&ui, &path, &[("guest", "Eve"), ("photo", &upload), ("submission", &other_key)], &[]).await;
        assert_eq!(stolen.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", stolen.text);
        assert!(stays(&ui).await.is_empty(), "nothing written");

        // Its own submission uses it, once.
        let done = post_multipart(&ui, &path, &[("guest", "Kari"), ("photo", &upload), ("submission", &key)], &[]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let written = stays(&ui).await;
        assert_eq!(written.len(), 1);
        assert_eq!(written[0]["fields"]["photo"][0]["id"], upload.as_str(), "{}", written[0]);
        let again = post_multipart(&ui, &path, &[("guest", "Kari again"), ("photo", &upload), ("submission", &key)], &[]).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", again.text);
        assert_eq!(stays(&ui).await.len(), 1);

        // A file chosen and the form filled in right in one post: one record with it (JavaScript or not).
        let fresh = ui.send(Method::GET, &path, &[], None).await;
        let solved = proof(&ui, &path).await;
        let one_go = post_multipart(&ui, &path, &[("guest", "Ola"), ("submission", &hidden_value(&fresh, "submission")), ("altcha", &solved)], &[("photo", "ola.jpg", "image/jpeg", png(500))]).await;
        assert_eq!(one_go.status, StatusCode::OK, "{}", one_go.text);
        let written = stays(&ui).await;
        assert_eq!(written.len(), 2);
        assert!(written.iter().any(|stay| stay["fields"]["photo"][0]["name"] == "ola.jpg"), "{written:?}");
        // A member's own upload through the API is no visitor's upload: refused on the form.
        let authorization = format!("Bearer {}", ui.admin_token);
        let members_file = ui
            .http
            .post(format!("{}/api/v1/attachments?filename=a.png", ui.base))
            .header("authorization", authorization)
            .header("content-type", "image/png")
            .body(png(100))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let solved = proof(&ui, &path).await;
        let borrowed = post_multipart(&ui, &path, &[("guest", "Eve"), ("photo", &members_file), ("submission", &other_key), ("altcha", &solved)], &[]).await;
        assert_eq!(borrowed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", borrowed.text);
        assert_eq!(stays(&ui).await.len(), 2);

        // The JSON API: upload with a key of the client's making, then submit with it.
        let api_key = "api-key-0123456789abcdef";
        let upload_path = format!("{}/api/v1/forms/{slug}/files?field=photo&submission={api_key}&filename=api.png", ui.base);
        let too_big = ui.http.post(&upload_path).header("content-type", "image/png").body(png(2 * 1024 * 1024)).send().await.unwrap();
        assert_eq!(too_big.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let uploaded: Value = ui.http.post(&upload_path).header("content-type", "image/png").body(png(300)).send().await.unwrap().json().await.unwrap();
        let file = uploaded["id"].as_str().expect("an id").to_owned();
        let elsewhere = ui.send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"guest": "Eve", "photo": [file]}, "submission": "another-key-0123456789"}))).await;
        assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", elsewhere.text);
        assert_eq!(elsewhere.json()["error"]["details"][0]["field"], "fields.photo");
        let taken = ui.send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"guest": "Api", "photo": [file]}, "submission": api_key}))).await;
        assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text);
        assert_eq!(stays(&ui).await.len(), 3);

        // An upload never submitted expires: a day later its own submission cannot use it either.
        let late_key = "late-key-0123456789abcdef";
        let late_path = format!("{}/api/v1/forms/{slug}/files?field=photo&submission={late_key}&filename=late.png", ui.base);
        let late: Value = ui.http.post(&late_path).header("content-type", "image/png").body(png(300)).send().await.unwrap().json().await.unwrap();
        ui.clock.advance(chrono::TimeDelta::hours(25));
        let expired = ui.send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"guest": "Late", "photo": [late["id"]]}, "submission": late_key}))).await;
        assert_eq!(expired.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", expired.text);
        assert_eq!(stays(&ui).await.len(), 3);
        ui
    }

    async fn a_returning_visitor_updates_her_own_row_instead_of_adding_a_duplicate(ui) {
        hostel(&ui).await;
        // Upsert needs a unique key on the form.
        let authorization = format!("Bearer {}", ui.admin_token);
        let refused = ui
            .send(
                Method::POST,
                "/api/v1/apps/hostel/tables/stays/views",
                &[("authorization", &authorization)],
                Some(json!({"name": "No key", "type": "form", "config": {"fields": ["guest"], "upsert": true}})),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert_eq!(refused.json()["error"]["details"][0]["field"], "config.upsert");

        let slug = form(&ui, json!({"fields": ["guest", "phone", "nights"], "upsert": true})).await;
        let path = format!("/f/{slug}");
        let first = post_pairs(&ui, &path, &[("guest", "王芳"), ("phone", "13800000000"), ("nights", "2")]).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let id = stays(&ui).await[0]["id"].as_str().unwrap().to_owned();
        // The owner notes something on the row; the visitor's return does not touch it.
        ui.api(Method::PATCH, &format!("/api/v1/apps/hostel/tables/stays/records/{id}"), Some(json!({"fields": {"note": "回头客"}}))).await;
        let back = post_pairs(&ui, &path, &[("guest", "王芳"), ("phone", "13800000000"), ("nights", "5")]).await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.text);
        assert!(back.text.contains("已更新您之前的提交"), "{}", back.text);
        let written = stays(&ui).await;
        assert_eq!(written.len(), 1, "no duplicate: {written:?}");
        assert_eq!(written[0]["id"], id.as_str());
        assert_eq!(written[0]["fields"]["nights"], 5);
        assert_eq!(written[0]["fields"]["note"], "回头客");
        // Another phone is another visitor: a new row. The JSON API says which happened.
        let api = ui.send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"guest": "Ola", "phone": "13900000000"}}))).await;
        assert_eq!(api.status, StatusCode::CREATED, "{}", api.text);
        assert_eq!(api.json()["updated"], false);
        let again = ui.send(Method::POST, &format!("/api/v1/forms/{slug}"), &[], Some(json!({"fields": {"guest": "Ola N.", "phone": "13900000000"}}))).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.json()["updated"], true);
        assert_eq!(stays(&ui).await.len(), 2);
        ui
    }
}
