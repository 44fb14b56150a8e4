// Browser tests of the form designer and the public form page: design a form (add, reorder, required,
// help), make it public, fill it in as an outsider on a phone with JavaScript and with JavaScript off, and
// see the records arrive in an open grid; the daily cap and a failed proof of work refuse and say why.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, records, tests } from "./tests.mjs";

const PHONE = { width: 375, height: 740 };

async function labelsInOrder(p) {
  return p.locator(".public-field label, .public-field legend").allTextContents();
}

Object.assign(tests, {
  async "form designer: design a form, publish it, an outsider fills it in on a phone with and without JavaScript"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    // A new view of type 表单 opens the designer.
    await p.getByRole("button", { name: "新建视图" }).click();
    const dialog = p.getByRole("dialog", { name: "新建视图" });
    await dialog.getByRole("textbox", { name: "名称" }).fill("报名表");
    await dialog.getByRole("radio", { name: "表单" }).check();
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "创建" }).click()]);
    await p.getByRole("heading", { name: "表单设计" }).waitFor();
    const list = p.getByRole("list", { name: "表单字段" });
    const add = p.getByRole("combobox", { name: "字段" });
    for (const name of ["工时", "姓名", "状态"]) {
      await add.selectOption({ label: name });
      await p.getByRole("button", { name: "添加到表单" }).click();
      await list.getByRole("listitem", { name }).waitFor();
    }
    // Reorder by keyboard-reachable buttons: 姓名 to the top.
    const name = list.getByRole("listitem", { name: "姓名" });
    await name.getByRole("button", { name: "上移" }).click();
    assert.deepEqual(await list.locator("> li .designer-field-name").allTextContents(), ["姓名", "工时", "状态"]);
    await name.getByRole("checkbox", { name: "必填" }).check();
    await list.getByRole("listitem", { name: "工时" }).getByRole("textbox", { name: "说明文字" }).fill("今天值班几小时");
    await p.getByRole("textbox", { name: "标题" }).fill("值班登记");
    await p.getByRole("textbox", { name: "提交后的提示" }).fill("登记成功，谢谢！");
    await p.getByRole("checkbox", { name: "公开" }).check();
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "form designer zh-CN");
    await Promise.all([p.waitForEvent("load"), p.getByRole("button", { name: "保存" }).click()]);
    const link = await p.getByRole("textbox", { name: "公开链接" }).inputValue();
    assert.match(link, /\/f\/[A-Za-z0-9_-]{20,}$/);
    const qr = p.getByRole("img", { name: "公开链接的二维码" });
    await qr.waitFor();
    assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), "the QR code is drawn");
    await screenshot(p, "f0-form-designer-zh");
    const view = (await server.api("GET", `${sheet.base}/views`)).body.items.find((v) => v.name === "报名表");
    assert.deepEqual(view.config.fields.map((f) => f.field), [sheet.fields["姓名"], sheet.fields["工时"], sheet.fields["状态"]]);
    assert.equal(view.config.fields[0].required, true);
    assert.equal(view.config.fields[1].help, "今天值班几小时");

    // An open grid of the table, where the submissions must appear.
    const g = await page(ctx, { locale: "zh-CN" });
    await logIn(g, server, sheet.path);
    const grid = g.getByRole("grid", { name: "考勤记录" });
    await grid.getByRole("columnheader", { name: "姓名" }).waitFor();

    // An outsider on a phone, JavaScript on (the proof of work runs).
    const o = await page(ctx, { locale: "zh-CN", viewport: PHONE });
    await o.goto(link);
    await o.getByRole("heading", { name: "值班登记" }).waitFor();
    assert.deepEqual((await labelsInOrder(o)).map((text) => text.replace(/\s*\*$/, "").trim()), ["姓名", "工时", "状态"]);
    const who = o.getByRole("textbox", { name: "姓名" });
    assert.equal(await who.getAttribute("aria-required"), "true");
    await o.getByText("今天值班几小时").waitFor();
    await checkAccessibility(o, "public form zh-CN phone");
    await screenshot(o, "f1-public-form-phone");
    await who.fill("访客甲");
    await o.getByRole("textbox", { name: "工时" }).fill("7.5");
    await o.getByRole("combobox", { name: "状态" }).selectOption("出勤");
    await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
    await o.getByText("登记成功，谢谢！").waitFor();
    await screenshot(o, "f2-public-form-done");
    await grid.getByRole("gridcell", { name: "访客甲" }).waitFor({ timeout: 5000 });

    // JavaScript off: a plain post; a missing required value comes back at its field, the rest kept.
    const n = await page(ctx, { locale: "en-US", viewport: PHONE, javaScriptEnabled: false });
    await n.goto(link);
    assert.equal(await n.getAttribute("html", "lang"), "zh-CN", "the form's language");
    await n.getByRole("link", { name: "English" }).click();
    await n.getByRole("button", { name: "Submit" }).waitFor();
    await n.getByRole("textbox", { name: "工时" }).fill("3");
    await n.getByRole("button", { name: "Submit" }).click();
    await n.getByText("Please correct the marked fields").waitFor();
    assert.equal(await n.getByRole("textbox", { name: "工时" }).inputValue(), "3");
    assert.equal(await n.getByRole("textbox", { name: "姓名" }).getAttribute("aria-invalid"), "true");
    await n.locator(".field-error").filter({ hasText: "is required" }).waitFor();
    await screenshot(n, "f3-public-form-nojs-error");
    await n.getByRole("textbox", { name: "姓名" }).fill("访客乙");
    await n.getByRole("button", { name: "Submit" }).click();
    await n.getByText("登记成功，谢谢！").waitFor();
    await grid.getByRole("gridcell", { name: "访客乙" }).waitFor({ timeout: 5000 });
    const names = (await records(server, sheet)).map((r) => r.fields[sheet.fields["姓名"]]).sort();
    assert.deepEqual(names, ["访客乙", "访客甲"]);
    await screenshot(g, "f4-grid-with-submissions");

    // A field deleted while the designer is open: saving is refused naming it, and the draft stays.
    const deleted = await server.api("DELETE", `${sheet.base}/fields/${sheet.fields["工时"]}`);
    assert.ok(deleted.status < 300, JSON.stringify(deleted.body));
    await p.getByRole("textbox", { name: "标题" }).fill("值班登记（新）");
    await p.getByRole("button", { name: "保存" }).click();
    await p.getByRole("alert").filter({ hasText: "字段“工时”已不存在" }).waitFor();
    assert.equal(await p.getByRole("textbox", { name: "标题" }).inputValue(), "值班登记（新）");
    await screenshot(p, "f7-form-designer-field-deleted");
    await list.getByRole("listitem", { name: "工时" }).getByRole("button", { name: "移除" }).click();
    await Promise.all([p.waitForEvent("load"), p.getByRole("button", { name: "保存" }).click()]);
    assert.equal(await p.getByRole("textbox", { name: "标题" }).inputValue(), "值班登记（新）");
  },

  async "public form: the daily cap and a failed proof of work write nothing and say why"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const made = await server.api("POST", `${sheet.base}/views`, {
      name: "限量报名",
      type: "form",
      config: { fields: [{ field: sheet.fields["姓名"], required: true }], public: true, daily_limit: 1 },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const link = server.url + new URL(made.body.public_url, server.url).pathname.replace("/api/v1/forms/", "/f/");
    const o = await page(ctx, { locale: "zh-CN", viewport: PHONE });
    await o.goto(link);
    const form = o.locator("form.public-form");
    await o.waitForFunction(() => document.querySelector("form.public-form")?.dataset.pow === "solved");
    // A tampered proof: refused, said why, nothing written, the value kept.
    await o.getByRole("textbox", { name: "姓名" }).fill("访客丙");
    await form.evaluate((f) => { f.querySelector('input[name="altcha"]').value = "bm90IGEgcHJvb2Y="; });
    await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
    await o.getByRole("alert").filter({ hasText: "浏览器验证未通过，本次未保存" }).waitFor();
    assert.equal(await o.getByRole("textbox", { name: "姓名" }).inputValue(), "访客丙");
    assert.equal((await records(server, sheet)).length, 0);
    await screenshot(o, "f5-public-form-proof-refused");
    // The page's fresh challenge is solved again; this one is taken.
    await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
    await o.getByText("谢谢，我们已收到您的提交。").waitFor();
    assert.equal((await records(server, sheet)).length, 1);
    // The owner's cap of one a day is reached: refused with the reason.
    await o.goto(link);
    await o.getByRole("textbox", { name: "姓名" }).fill("访客丁");
    await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
    await o.getByRole("alert").filter({ hasText: "今天已收满" }).waitFor();
    assert.equal((await records(server, sheet)).length, 1);
    await checkAccessibility(o, "public form over its cap");
    await screenshot(o, "f6-public-form-daily-cap");
  },
  async "public form: a visitor's image upload on a phone, with and without JavaScript"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const photo = await server.api("POST", `${sheet.base}/fields`, {
      name: "照片", type: "attachment", options: { max_size_mb: 1, types: ["image/*"] },
    });
    assert.equal(photo.status, 201, JSON.stringify(photo.body));
    const made = await server.api("POST", `${sheet.base}/views`, {
      name: "带照片报名",
      type: "form",
      config: { fields: [{ field: sheet.fields["姓名"], required: true }, photo.body.key], public: true },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const link = server.url + new URL(made.body.public_url, server.url).pathname.replace("/api/v1/forms/", "/f/");
    // A tiny PNG (1×1, transparent).
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
      "base64",
    );
    const o = await page(ctx, { locale: "zh-CN", viewport: PHONE });
    await o.goto(link);
    await o.waitForFunction(() => document.querySelector("form.public-form")?.dataset.pow === "solved");
    // The name is missing: refused, but the chosen image is kept for this submission.
    await o.getByLabel("照片").setInputFiles({ name: "我的照片.png", mimeType: "image/png", buffer: png });
    await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
    await o.getByRole("alert").filter({ hasText: "请修改标出的项目后再提交" }).waitFor();
    await o.getByRole("checkbox", { name: /我的照片\.png/ }).waitFor();
    assert.ok(await o.getByRole("checkbox", { name: /我的照片\.png/ }).isChecked());
    await checkAccessibility(o, "public form with a kept upload");
    await screenshot(o, "f8-public-form-upload-kept-phone");
    await o.getByRole("textbox", { name: "姓名" }).fill("访客戊");
    await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
    await o.getByText("谢谢，我们已收到您的提交。").waitFor();
    let rows = await records(server, sheet);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].fields[photo.body.key][0].name, "我的照片.png");
    // JavaScript off: the same form, a plain multipart post.
    const n = await page(ctx, { locale: "zh-CN", viewport: PHONE, javaScriptEnabled: false });
    await n.goto(link);
    await n.getByRole("textbox", { name: "姓名" }).fill("访客己");
    await n.getByLabel("照片").setInputFiles({ name: "nojs.png", mimeType: "image/png", buffer: png });
    await Promise.all([n.waitForEvent("load"), n.getByRole("button", { name: "提交" }).click()]);
    await n.getByText("谢谢，我们已收到您的提交。").waitFor();
    rows = await records(server, sheet);
    assert.equal(rows.length, 2);
    assert.ok(rows.some((row) => row.fields[photo.body.key]?.[0]?.name === "nojs.png"));
    await screenshot(n, "f9-public-form-upload-nojs-done");
  },
});
