// Browser tests of the outside ways in (issue #19) as members make them and visitors use them: a member
// shares a record's chosen fields from the record detail, a visitor opens the link on a phone in a fresh
// browser (no cookies) and sees only those fields, an edit through a link shows in the record's history
// as the link's, a withdrawn link answers 410; a grid view published read-only from its settings is
// opened anonymously and shows only what the chosen app role may see.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, records, tests } from "./tests.mjs";

const PHONE = { width: 375, height: 740 };

/** A visitor's page: its own browser context (no cookies), a phone, JavaScript on. */
async function visitor(ctx, locale = "zh-CN") {
  return page(ctx, { locale, viewport: PHONE });
}

Object.assign(tests, {
  async "share: a member shares chosen fields; a visitor on a phone sees only those; withdrawn, the link is gone"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 1);
    const phone = await server.api("POST", `${sheet.base}/fields`, { name: "家长电话", type: "text" });
    assert.equal(phone.status, 201, JSON.stringify(phone.body));
    const [record] = await records(server, sheet);
    await server.api("PATCH", `${sheet.base}/records/${record.id}`, {
      fields: { [sheet.fields["工时"]]: "8", [sheet.fields["状态"]]: "出勤", [phone.body.key]: "13800001234" },
    });

    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    await p.getByRole("button", { name: "展开记录" }).first().click();
    const dialog = p.getByRole("dialog", { name: "学生1" });
    await dialog.getByRole("tab", { name: "分享" }).click();
    await dialog.getByText("还没有分享链接。").waitFor();
    // Nothing ticked: the link is not made, and the panel says why.
    await dialog.getByRole("button", { name: "生成链接" }).click();
    await dialog.getByRole("alert").filter({ hasText: "请至少勾选一个字段" }).waitFor();
    await dialog.getByRole("checkbox", { name: "姓名" }).check();
    await dialog.getByRole("checkbox", { name: "工时" }).check();
    await dialog.getByRole("combobox", { name: "有效期" }).selectOption({ label: "7 天" });
    assert.equal(await dialog.getByRole("radio", { name: "只查看" }).isChecked(), true, "read-only unless the member says");
    await dialog.getByRole("button", { name: "生成链接" }).click();
    const made = dialog.getByRole("textbox", { name: "新链接" });
    await made.waitFor();
    const link = await made.inputValue();
    assert.match(link, /\/s\/[A-Za-z0-9_-]{30,}$/);
    const qr = dialog.getByRole("img", { name: "链接的二维码" });
    await qr.waitFor();
    await p.waitForFunction(() => {
      const img = document.querySelector(".record-share .share-qr");
      return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
    });
    await dialog.getByRole("button", { name: "复制链接" }).click();
    await dialog.getByRole("status").filter({ hasText: /已复制|请选中链接后复制/ }).waitFor();
    const links = dialog.getByRole("list", { name: "此记录的分享链接" });
    const item = links.getByRole("listitem").filter({ hasText: "姓名、工时" });
    await item.getByText(/只查看 · 有效至 .* · 已打开 0 次/).waitFor();
    assert.deepEqual(await englishText(p, [...LATIN, "Demo token", "Admin"]), []);
    await checkAccessibility(p, "record detail: share");
    await screenshot(p, "s0-record-share-zh");
    const listed = (await server.api("GET", `${sheet.base}/records/${record.id}/shares`)).body.items;
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0].fields, [sheet.fields["姓名"], sheet.fields["工时"]]);
    assert.equal(listed[0].mode, "read");
    assert.ok(Math.abs(Date.parse(listed[0].expires_at) - Date.parse(listed[0].created_at) - 7 * 24 * 3600 * 1000) < 60000, "7 days");

    // A visitor on a phone, in a browser of their own: only the two fields.
    const v = await visitor(ctx);
    const opened = await v.goto(link);
    assert.equal(opened.status(), 200);
    const shown = v.locator("dl.share-fields");
    assert.deepEqual(await shown.locator("dt").allTextContents(), ["姓名", "工时"]);
    const values = (await shown.locator("dd").allTextContents()).map((text) => text.trim());
    assert.equal(values[0], "学生1");
    assert.match(values[1], /^8(\.0)?$/);
    const text = await v.locator("body").innerText();
    assert.ok(!text.includes("家长电话") && !text.includes("13800001234") && !text.includes("状态"), text);
    assert.equal(await v.locator("form").count(), 0, "a read-only link has no form");
    assert.deepEqual(await englishText(v, LATIN), []);
    await checkAccessibility(v, "share page zh-CN phone");
    await screenshot(v, "s1-share-page-zh-phone");
    await v.getByRole("link", { name: "English" }).click();
    await v.waitForURL(/lang=en/);
    assert.equal(await v.getAttribute("html", "lang"), "en");
    await checkAccessibility(v, "share page en phone");
    await screenshot(v, "s2-share-page-en-phone");

    // An edit link for 工时: the visitor's change is the link's in the record's history.
    await dialog.getByRole("radio", { name: "查看并修改" }).check();
    await dialog.getByRole("checkbox", { name: "姓名" }).uncheck();
    await dialog.getByRole("checkbox", { name: "工时" }).check();
    await dialog.getByRole("button", { name: "生成链接" }).click();
    await links.getByRole("listitem").filter({ hasText: /可修改/ }).waitFor();
    const editLink = await made.inputValue();
    assert.notEqual(editLink, link);
    const e = await visitor(ctx);
    await e.goto(editLink);
    await e.getByRole("textbox", { name: "工时" }).fill("6");
    await Promise.all([e.waitForEvent("load"), e.getByRole("button", { name: "保存" }).click()]);
    await e.getByText("已保存。").waitFor();
    await screenshot(e, "s3-share-edit-saved-zh-phone");
    const [changed] = await records(server, sheet);
    assert.equal(Number(changed.fields[sheet.fields["工时"]]), 6);
    await dialog.getByRole("tab", { name: "修改历史" }).click();
    await dialog.locator(".record-history").getByText(/^通过分享链接的访客 ?做了修改/).first().waitFor();

    // Withdrawn: the list says so, and the link answers 410 with a page saying so.
    await dialog.getByRole("tab", { name: "分享" }).click();
    await item.getByRole("button", { name: "收回" }).click();
    await item.getByText(/已收回/).waitFor();
    assert.equal(await item.getByRole("button", { name: "收回" }).count(), 0);
    await screenshot(p, "s4-record-share-withdrawn-zh");
    const gone = await v.goto(link);
    assert.equal(gone.status(), 410);
    await v.getByText("分享者已收回此链接").waitFor();
    assert.ok(!(await v.locator("body").innerText()).includes("学生1"));
    await checkAccessibility(v, "share page gone");
    await screenshot(v, "s5-share-page-gone-zh-phone");
  },

  async "publish: a grid view published read-only from its settings is opened anonymously on a phone"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 3);
    const view = await server.api("POST", `${sheet.base}/views`, { name: "全部学生", type: "grid", config: {} });
    assert.equal(view.status, 201, JSON.stringify(view.body));
    const permissions = await server.api("PUT", `/api/v1/apps/${sheet.app.id}/permissions`, {
      roles: [{ key: "parents", name: "家长", grants: [{ table: sheet.table.key, actions: { read: true }, fields: { hidden: [sheet.fields["工时"]] } }] }],
    });
    assert.equal(permissions.status, 200, JSON.stringify(permissions.body));

    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, `${sheet.path}?view=${view.body.id}`);
    await p.getByRole("button", { name: "发布" }).click();
    const dialog = p.getByRole("dialog", { name: "发布此视图" });
    await dialog.getByRole("checkbox", { name: "发布为只读页面" }).check();
    await dialog.getByRole("combobox", { name: "访客按哪个角色查看" }).selectOption({ label: "家长" });
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "publish dialog");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    await p.getByRole("button", { name: "发布" }).click();
    const link = await dialog.getByRole("textbox", { name: "公开链接" }).inputValue();
    assert.match(link, /\/v\/[A-Za-z0-9_-]{10,}$/);
    await p.waitForFunction(() => {
      const img = document.querySelector("#publish-view-dialog .share-qr");
      return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
    });
    await screenshot(p, "v0-publish-dialog-zh");
    const stored = (await server.api("GET", `${sheet.base}/views/${view.body.id}`)).body;
    assert.deepEqual(stored.config.public, { enabled: true, as_role: "parents" });

    const v = await visitor(ctx);
    const opened = await v.goto(link);
    assert.equal(opened.status(), 200);
    assert.deepEqual(await v.locator("table th").allTextContents(), ["姓名", "状态"], "the role hides 工时");
    assert.deepEqual((await v.locator("table tbody tr td:first-child").allTextContents()).sort(), ["学生1", "学生2", "学生3"]);
    assert.deepEqual(await englishText(v, LATIN), []);
    await checkAccessibility(v, "published view zh-CN phone");
    await screenshot(v, "v1-public-view-zh-phone");
    await v.getByRole("link", { name: "English" }).click();
    await v.waitForURL(/lang=en/);
    await checkAccessibility(v, "published view en phone");
    await screenshot(v, "v2-public-view-en-phone");

    // Unpublished: the link no longer opens.
    await dialog.getByRole("button", { name: "取消" }).click();
    await p.getByRole("button", { name: "发布" }).click();
    await dialog.getByRole("checkbox", { name: "发布为只读页面" }).uncheck();
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    const closed = await fetch(link);
    assert.equal(closed.status, 404);
  },
});
