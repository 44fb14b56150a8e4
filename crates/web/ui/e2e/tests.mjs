// The browser tests. Each gets { browser, server, pages } and pushes every page it opens to `pages`
// (their console errors, CSP violations and failed requests fail the test).
import assert from "node:assert/strict";
import { checkAccessibility, englishText, openPage, screenshot } from "./harness.mjs";

/** Words zh-CN text may write in Latin letters (brand, key and product names). */
export const LATIN = ["Tenon", "Enter", "Esc", "Tab", "F2", "Ctrl", "Excel", "WPS", "Webhook", "API", "TRUE", "FALSE", "Alt"];

export async function page(ctx, options) {
  const opened = await openPage(ctx.browser, ctx.server, options);
  ctx.pages.push(opened);
  return opened;
}

export async function logIn(p, server, next = "/") {
  await p.goto(server.url + next);
  await p.waitForURL(/\/login/);
  await p.getByRole("textbox", { name: /^(Email|邮箱)$/ }).fill(server.email);
  await p.getByLabel(/^(Password|密码)$/).fill(server.password);
  await p.getByRole("button", { name: /^(Log in|登录)$/ }).click();
  await p.waitForURL((url) => !url.pathname.startsWith("/login"));
}

async function chooseLanguage(p, label) {
  const banner = p.getByRole("banner");
  await Promise.all([p.waitForEvent("load"), banner.getByRole("combobox", { name: /^(Language|语言)$/ }).selectOption({ label })]);
}

export const tests = {
  async "log-in page in both languages, at desktop and phone width"(ctx) {
    const p = await page(ctx);
    const response = await p.goto(ctx.server.url + "/");
    assert.equal(new URL(p.url()).pathname, "/login", "an anonymous visit lands on the log-in page");
    const csp = (await response.request().redirectedFrom()?.response())?.headers()["content-security-policy"];
    assert.ok(csp?.includes("frame-ancestors 'none'"), "the redirect carries the CSP");
    assert.equal(await p.getAttribute("html", "lang"), "en");
    await p.getByRole("textbox", { name: "Email" }).waitFor();
    await p.getByRole("button", { name: "Log in" }).waitFor();
    await checkAccessibility(p, "login en");
    await screenshot(p, "01-login-en");
    await chooseLanguage(p, "简体中文");
    assert.equal(await p.getAttribute("html", "lang"), "zh-CN");
    await p.getByRole("textbox", { name: "邮箱" }).waitFor();
    await p.getByRole("button", { name: "登录" }).waitFor();
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "login zh-CN");
    await screenshot(p, "01-login-zh");
    await p.setViewportSize({ width: 375, height: 667 });
    await screenshot(p, "01-login-zh-phone");
  },

  async "a wrong password is refused in the page's language and nothing typed is lost"(ctx) {
    const p = await page(ctx, { locale: "zh-CN" });
    await p.goto(ctx.server.url + "/login");
    assert.equal(await p.getAttribute("html", "lang"), "zh-CN", "Accept-Language picks the language");
    await p.getByRole("textbox", { name: "邮箱" }).fill(ctx.server.email);
    await p.getByLabel("密码").fill("not-the-password");
    await p.getByRole("button", { name: "登录" }).click();
    await p.getByRole("alert").filter({ hasText: "邮箱或密码错误" }).waitFor();
    assert.equal(await p.getByRole("textbox", { name: "邮箱" }).inputValue(), ctx.server.email);
    await screenshot(p, "02-login-refused-zh");
  },

  async "log in, create an app and a table in zh-CN, back to the same page after the session ends"(ctx) {
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server);
    const banner = p.getByRole("banner");
    await banner.getByRole("button", { name: "切换组织" }).waitFor();
    await banner.getByRole("button", { name: "退出登录" }).waitFor();
    await banner.getByRole("link", { name: "应用" }).waitFor();
    await p.getByRole("heading", { name: "应用", level: 1 }).waitFor();
    await p.getByRole("button", { name: "新建应用" }).click();
    const dialog = p.getByRole("dialog");
    await dialog.getByRole("textbox", { name: "名称" }).fill("值班考勤");
    await checkAccessibility(p, "new app dialog");
    await dialog.getByRole("button", { name: "创建" }).click();
    await p.getByRole("heading", { name: "值班考勤", level: 1 }).waitFor();
    const apps = await ctx.server.api("GET", "/api/v1/apps");
    assert.ok(apps.body.items.some((app) => app.name === "值班考勤"), "the API lists the new app");
    await p.getByRole("button", { name: "新建数据表" }).click();
    await p.getByRole("dialog").getByRole("textbox", { name: "名称" }).fill("考勤记录");
    await p.getByRole("dialog").getByRole("button", { name: "创建" }).click();
    await p.getByRole("heading", { name: "考勤记录", level: 1 }).waitFor();
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "table page zh-CN");
    await screenshot(p, "03-table-zh");
    // The session ends (logged out elsewhere): the next visit asks to log in and comes back here.
    const here = new URL(p.url()).pathname;
    await p.context().clearCookies({ name: "tenon_session" });
    await p.reload();
    await p.waitForURL(/\/login\?next=/);
    await p.getByRole("textbox", { name: "邮箱" }).fill(ctx.server.email);
    await p.getByLabel("密码").fill(ctx.server.password);
    await p.getByRole("button", { name: "登录" }).click();
    await p.waitForURL((url) => url.pathname === here);
  },

  async "the home page in English and at phone width; log out"(ctx) {
    const p = await page(ctx, { viewport: { width: 375, height: 740 } });
    await logIn(p, ctx.server);
    await p.getByRole("heading", { name: "Apps", level: 1 }).waitFor();
    await checkAccessibility(p, "home en phone");
    await screenshot(p, "04-home-en-phone");
    await p.getByRole("banner").getByRole("button", { name: "Log out" }).click();
    await p.waitForURL(/\/login/);
    await p.goto(ctx.server.url + "/");
    await p.waitForURL(/\/login/);
  },
};

/** An app with the duty-attendance table, made through the API: 姓名 text, 状态 单选 出勤/请假, 工时 number. */
export async function attendance(server, rows = 0) {
  const app = (await server.api("POST", "/api/v1/apps", { name: `考勤${Math.floor(Math.random() * 1e6)}` })).body;
  const table = (await server.api("POST", `/api/v1/apps/${app.id}/tables`, { name: "考勤记录" })).body;
  const base = `/api/v1/apps/${app.id}/tables/${table.id}`;
  const fields = {};
  for (const body of [
    { name: "姓名", type: "text" },
    { name: "状态", type: "single_select", options: { choices: [{ name: "出勤", color: "green" }, { name: "请假", color: "orange" }] } },
    { name: "工时", type: "number", options: { precision: 1 } },
  ]) {
    const reply = await server.api("POST", `${base}/fields`, body);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    fields[body.name] = reply.body.key;
  }
  if (rows) {
    const records = Array.from({ length: rows }, (_, i) => ({ fields: { [fields["姓名"]]: `学生${i + 1}` } }));
    const reply = await server.api("POST", `${base}/records`, { records });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
  }
  return { app, table, base, fields, path: `/apps/${app.id}/tables/${table.id}` };
}

export async function records(server, sheet) {
  const reply = await server.api("GET", `${sheet.base}/records?page_size=1000`);
  return reply.body.items;
}

async function statusText(p) {
  return (await p.locator("#save-status").textContent()) ?? "";
}

Object.assign(tests, {
  async "grid: type 张三 through an input method with Enter mid-composition, choose 出勤, type 8"(ctx) {
    const sheet = await attendance(ctx.server);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server, sheet.path);
    const grid = p.getByRole("grid", { name: "考勤记录" });
    for (const name of ["姓名", "状态", "工时"]) await grid.getByRole("columnheader", { name }).waitFor();
    await p.getByRole("button", { name: "新增记录" }).click();
    await grid.locator("td.cell.active").waitFor();
    const cdp = await p.context().newCDPSession(p);
    // Pinyin "zhang san" composing; an IME's Enter arrives as keyCode 229 and must not commit or move.
    await cdp.send("Input.imeSetComposition", { text: "zhang", selectionStart: 5, selectionEnd: 5 });
    await cdp.send("Input.imeSetComposition", { text: "zhang san", selectionStart: 9, selectionEnd: 9 });
    await cdp.send("Input.dispatchKeyEvent", { type: "rawKeyDown", windowsVirtualKeyCode: 229, nativeVirtualKeyCode: 229, key: "Enter", code: "Enter" });
    await cdp.send("Input.dispatchKeyEvent", { type: "keyUp", windowsVirtualKeyCode: 229, key: "Enter", code: "Enter" });
    const editor = p.locator(".cell-editor");
    assert.ok(await editor.evaluate((e) => e.classList.contains("editing")), "the editor opened on the first keystroke");
    assert.equal(await editor.inputValue(), "zhang san", "the composition is kept");
    await cdp.send("Input.insertText", { text: "张三" });
    assert.equal(await editor.inputValue(), "张三");
    await screenshot(p, "10-grid-ime-zh");
    await p.keyboard.press("Tab");
    // 状态: Enter opens the choices, arrows move, Enter picks.
    await p.keyboard.press("Enter");
    await p.getByRole("listbox").waitFor();
    await p.keyboard.press("ArrowDown");
    await p.keyboard.press("ArrowUp");
    await p.keyboard.press("Enter");
    await p.keyboard.press("ArrowUp");
    await p.keyboard.press("ArrowRight");
    await p.keyboard.type("8");
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "所有更改已保存");
    const saved = await records(ctx.server, sheet);
    assert.equal(saved.length, 1);
    assert.deepEqual(saved[0].fields, { [sheet.fields["姓名"]]: "张三", [sheet.fields["状态"]]: "出勤", [sheet.fields["工时"]]: "8.0" });
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "grid zh-CN");
    await screenshot(p, "11-grid-row-zh");
  },

  async "grid: pasting a 3×3 range past the last row creates the rows"(ctx) {
    const sheet = await attendance(ctx.server, 1);
    const p = await page(ctx);
    await logIn(p, ctx.server, sheet.path);
    await p.locator('td.cell[data-row="0"][data-col="0"]').click();
    await p.keyboard.press("ArrowDown"); // stays on the last row: there is no row 2 yet
    const tsv = "李四\t出勤\t7.5\r\n王五\t请假\t0\r\n赵六\t出勤\t8\r\n";
    await p.locator(".cell-editor").evaluate((editor, text) => {
      const data = new DataTransfer();
      data.setData("text/plain", text);
      editor.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, tsv);
    await p.waitForFunction(() => document.querySelector('table[role="grid"]')?.getAttribute("aria-rowcount") === "4");
    const saved = await records(ctx.server, sheet);
    const names = saved.map((r) => r.fields[sheet.fields["姓名"]]).sort();
    assert.deepEqual(names, ["李四", "王五", "赵六"].sort(), "row 1 was overwritten, two rows created");
    const wang = saved.find((r) => r.fields[sheet.fields["姓名"]] === "王五");
    assert.equal(wang.fields[sheet.fields["状态"]], "请假");
    assert.equal(wang.fields[sheet.fields["工时"]], "0.0");
    // Copy gives the same tab-separated text back.
    const copied = await p.locator(".cell-editor").evaluate((editor) => {
      const data = new DataTransfer();
      editor.dispatchEvent(new ClipboardEvent("copy", { clipboardData: data, bubbles: true, cancelable: true }));
      return data.getData("text/plain");
    });
    assert.equal(copied, "李四\t出勤\t7.5\r\n王五\t请假\t0.0\r\n赵六\t出勤\t8.0");
    await screenshot(p, "12-grid-paste-en");
  },

  async "grid: a save that gets 422, offline, 500 or 409 loses nothing"(ctx) {
    const sheet = await attendance(ctx.server, 1);
    const [record] = await records(ctx.server, sheet);
    const p = await page(ctx, { locale: "zh-CN" });
    // The conflict below needs the other person's change not to have reached this page yet: the live
    // event stream (which would show it first) stays silent here.
    await p.route("**/api/v1/events/stream*", (route) =>
      route.fulfill({ status: 200, contentType: "text/event-stream", body: "retry: 600000\n\n" }),
    );
    await logIn(p, ctx.server, sheet.path);
    const hours = p.locator('td.cell[data-row="0"][data-col="2"]');
    const editor = p.locator(".cell-editor");
    // 422: the typed text stays in the editor with the translated reason.
    await hours.click();
    await p.keyboard.type("八小时");
    await p.keyboard.press("Enter");
    await p.locator(".cell-reason").filter({ hasText: "工时：不是有效的数字" }).waitFor();
    assert.equal(await editor.inputValue(), "八小时");
    assert.equal(await editor.getAttribute("aria-invalid"), "true");
    await screenshot(p, "13-grid-422-zh");
    await p.keyboard.press("Escape");
    // The network fails: pending, said so, kept across a reload (leaving warns), sent once it is back.
    const offline = (route) =>
      route.request().method() === "PATCH" ? route.abort("internetdisconnected") : route.continue();
    await p.route("**/records/*", offline);
    await hours.click();
    await p.keyboard.type("6");
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "有未保存的更改");
    assert.ok(await p.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith("tenon-pending:"))));
    await p.locator("#save-note").waitFor();
    await screenshot(p, "14-grid-offline-zh");
    let warned = false;
    p.once("dialog", (dialog) => {
      warned = dialog.type() === "beforeunload";
      void dialog.accept();
    });
    await p.reload();
    assert.ok(warned, "leaving the page with a pending edit warns");
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "有未保存的更改");
    await p.unroute("**/records/*", offline);
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "所有更改已保存", null, { timeout: 15000 });
    let [now] = await records(ctx.server, sheet);
    assert.equal(now.fields[sheet.fields["工时"]], "6.0", "the pending edit was sent after the reload");
    // 500: kept and retried.
    let failures = 1;
    await p.route("**/records/*", async (route) => {
      if (route.request().method() === "PATCH" && failures > 0) {
        failures -= 1;
        await route.fulfill({ status: 500, contentType: "application/json", body: '{"error":{"code":"internal","message":"injected","params":{},"details":[]}}' });
      } else await route.continue();
    });
    await hours.click();
    await p.keyboard.type("7");
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "所有更改已保存", null, { timeout: 15000 });
    [now] = await records(ctx.server, sheet);
    assert.equal(now.fields[sheet.fields["工时"]], "7.0", "retried after the 500");
    await p.unroute("**/records/*");
    // 409: someone else changed the record; the person sees theirs and mine and keeps theirs… or mine.
    await ctx.server.api("PATCH", `${sheet.base}/records/${record.id}`, { fields: { [sheet.fields["工时"]]: "3" } });
    await hours.click();
    await p.keyboard.type("9");
    await p.keyboard.press("Enter");
    const dialog = p.getByRole("dialog", { name: "有人修改了这条记录" });
    await dialog.waitFor();
    assert.equal(await dialog.locator(".conflict-theirs").textContent(), "3.0");
    assert.equal(await dialog.locator(".conflict-mine").textContent(), "9");
    await screenshot(p, "15-grid-409-zh");
    await dialog.getByRole("button", { name: "保留我的" }).click();
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "所有更改已保存");
    [now] = await records(ctx.server, sheet);
    assert.equal(now.fields[sheet.fields["工时"]], "9.0");
    // The injected 500 and the offline requests are the test's own doing.
    p.problems.splice(0, p.problems.length, ...p.problems.filter((x) => !/500|ERR_INTERNET_DISCONNECTED|injected/.test(x)));
  },
});

Object.assign(tests, {
  async "build the duty-attendance app from nothing in zh-CN"(ctx) {
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server);
    await p.getByRole("button", { name: "新建应用" }).click();
    const name = `值班考勤${Math.floor(Math.random() * 1e6)}`;
    await p.getByRole("dialog").getByRole("textbox", { name: "名称" }).fill(name);
    await p.getByRole("dialog").getByRole("button", { name: "创建" }).click();
    await p.getByRole("heading", { name, level: 1 }).waitFor();
    await p.getByRole("button", { name: "新建数据表" }).click();
    await p.getByRole("dialog").getByRole("textbox", { name: "名称" }).fill("考勤记录");
    await p.getByRole("dialog").getByRole("button", { name: "创建" }).click();
    await p.getByRole("heading", { name: "考勤记录", level: 1 }).waitFor();
    const addField = async (fieldName, type, choices = []) => {
      await p.getByRole("button", { name: "添加字段" }).first().click();
      const dialog = p.getByRole("dialog", { name: "添加字段" });
      await dialog.getByRole("textbox", { name: "字段名称" }).fill(fieldName);
      await dialog.getByRole("combobox", { name: "字段类型" }).selectOption({ label: type });
      for (const [i, choice] of choices.entries()) {
        if (i > 0) await dialog.getByRole("button", { name: "添加选项" }).click();
        await dialog.getByRole("textbox", { name: "选项名称" }).nth(i).fill(choice);
      }
      if (fieldName === "姓名") await dialog.getByRole("checkbox", { name: "必填" }).check();
      if (choices.length) await screenshot(p, "20-field-dialog-zh");
      await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    };
    await addField("姓名", "单行文本");
    await addField("日期", "日期");
    await addField("状态", "单选", ["出勤", "请假"]);
    await addField("工时", "数字");
    const grid = p.getByRole("grid", { name: "考勤记录" });
    for (const header of ["姓名", "日期", "状态", "工时"]) await grid.getByRole("columnheader", { name: header }).waitFor();
    const apps = (await ctx.server.api("GET", "/api/v1/apps?page_size=1000")).body.items;
    const app = apps.find((a) => a.name === name);
    const tables = (await ctx.server.api("GET", `/api/v1/apps/${app.id}/tables`)).body;
    const table = (tables.items ?? tables)[0];
    const fields = (await ctx.server.api("GET", `/api/v1/apps/${app.id}/tables/${table.id}/fields`)).body;
    const list = fields.items ?? fields;
    assert.deepEqual(list.map((f) => [f.name, f.type]), [["姓名", "text"], ["日期", "date"], ["状态", "single_select"], ["工时", "number"]]);
    assert.equal(list[0].required, true);
    assert.deepEqual(list[2].options.choices.map((c) => c.name), ["出勤", "请假"]);
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "builder zh-CN");
    await screenshot(p, "21-fields-zh");
  },

  async "a formula with autocomplete and a fixed type error"(ctx) {
    const sheet = await attendance(ctx.server);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server, sheet.path);
    await p.getByRole("button", { name: "添加字段" }).first().click();
    const dialog = p.getByRole("dialog", { name: "添加字段" });
    await dialog.getByRole("textbox", { name: "字段名称" }).fill("工资");
    await dialog.getByRole("combobox", { name: "字段类型" }).selectOption({ label: "公式" });
    const formula = dialog.getByRole("combobox", { name: "公式" });
    await formula.click();
    await formula.pressSequentially("{工");
    await dialog.getByRole("option", { name: /\{工时\}/ }).waitFor();
    await p.keyboard.press("Enter");
    assert.equal(await formula.inputValue(), "{工时}");
    await formula.pressSequentially(' * "三十"');
    await dialog.locator(".formula-messages li").first().waitFor();
    await dialog.locator(".formula-mirror mark").first().waitFor();
    const save = dialog.getByRole("button", { name: "保存" });
    assert.equal(await save.isDisabled(), true, "save is disabled while the formula is invalid");
    await screenshot(p, "22-formula-error-zh");
    await formula.fill("");
    await formula.pressSequentially("ROU");
    await dialog.getByRole("option", { name: /ROUND\(/ }).first().waitFor();
    await p.keyboard.press("Tab");
    await formula.pressSequentially("{工时} * 30, 0)");
    await dialog.getByText("结果类型：数字").waitFor();
    assert.equal(await save.isDisabled(), false);
    await screenshot(p, "23-formula-ok-zh");
    await Promise.all([p.waitForEvent("load"), save.click()]);
    const fields = (await ctx.server.api("GET", `${sheet.base}/fields`)).body;
    const wage = (fields.items ?? fields).find((f) => f.name === "工资");
    assert.equal(wage.type, "formula");
    assert.match(wage.options.formula, /ROUND\(\{工时\} \* 30, 0\)/);
  },

  async "a record's detail names each input by its field, and its history lists the changes"(ctx) {
    const sheet = await attendance(ctx.server, 1);
    const [record] = await records(ctx.server, sheet);
    await ctx.server.api("PATCH", `${sheet.base}/records/${record.id}`, { fields: { [sheet.fields["工时"]]: "8" } });
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server, sheet.path);
    await p.getByRole("button", { name: "展开记录" }).first().click();
    const dialog = p.getByRole("dialog", { name: "学生1" });
    await dialog.waitFor();
    assert.equal(await dialog.getByRole("textbox", { name: "姓名" }).inputValue(), "学生1");
    await dialog.getByRole("combobox", { name: "状态" }).selectOption("请假");
    await dialog.getByRole("textbox", { name: "工时" }).fill("7.5");
    await checkAccessibility(p, "record detail");
    await screenshot(p, "24-record-zh");
    await dialog.getByRole("button", { name: "保存" }).click();
    await dialog.waitFor({ state: "hidden" });
    const [now] = await records(ctx.server, sheet);
    assert.equal(now.fields[sheet.fields["工时"]], "7.5");
    assert.equal(now.fields[sheet.fields["状态"]], "请假");
    await p.getByRole("button", { name: "展开记录" }).first().click();
    await dialog.getByRole("tab", { name: "修改历史" }).click();
    const history = dialog.locator(".record-history");
    // Values as the API shows them (precision 1: "8.0"), or as stored before that was so.
    await history.getByText(/8(\.0)? → 7\.5/).first().waitFor();
    await history.getByText(/（空） → 8(\.0)?$/).first().waitFor();
    // The demo's actor names (user data) are the only Latin words.
    assert.deepEqual(await englishText(p, [...LATIN, "Demo token", "Admin"]), []);
    await screenshot(p, "25-history-zh");
  },
});

Object.assign(tests, {
  async "a member changes their password; the app's table is renamed and deleted"(ctx) {
    const email = `teacher${Math.floor(Math.random() * 1e6)}@school.example`;
    const made = await ctx.server.api("POST", "/api/v1/members", { name: "王老师", email, role: "admin", password: "first-pass-1" });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const sheet = await attendance(ctx.server);
    const p = await page(ctx, { locale: "zh-CN" });
    await p.goto(ctx.server.url + sheet.path);
    await p.getByRole("textbox", { name: "邮箱" }).fill(email);
    await p.getByLabel("密码").fill("first-pass-1");
    await p.getByRole("button", { name: "登录" }).click();
    await p.getByRole("heading", { name: "考勤记录", level: 1 }).waitFor();
    // Change password: a wrong current password is refused in Chinese, the typed values stay.
    await p.getByRole("banner").getByRole("button", { name: "修改密码" }).click();
    const dialog = p.getByRole("dialog", { name: "修改密码" });
    await dialog.getByLabel("当前密码").fill("wrong-pass-1");
    await dialog.getByLabel("新密码（至少 8 位）").fill("second-pass-2");
    await dialog.getByRole("button", { name: "保存" }).click();
    await dialog.getByRole("alert").filter({ hasText: /[\u4e00-\u9fff]/ }).waitFor();
    assert.equal(await dialog.getByLabel("新密码（至少 8 位）").inputValue(), "second-pass-2");
    await screenshot(p, "30-password-refused-zh");
    await dialog.getByLabel("当前密码").fill("first-pass-1");
    await dialog.getByRole("button", { name: "保存" }).click();
    await dialog.waitFor({ state: "hidden" });
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "密码已修改。");
    const login = async (password) =>
      (await fetch(ctx.server.url + "/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json", origin: ctx.server.url },
        body: JSON.stringify({ email, password }),
      })).status;
    assert.equal(await login("first-pass-1"), 401, "the old password no longer works");
    assert.equal(await login("second-pass-2"), 200, "the new one does");
    // Rename the table, then delete it by typing its name.
    await p.getByRole("button", { name: "重命名" }).click();
    const rename = p.getByRole("dialog", { name: "重命名数据表" });
    await rename.getByRole("textbox", { name: "名称" }).fill("值班记录");
    await Promise.all([p.waitForEvent("load"), rename.getByRole("button", { name: "保存" }).click()]);
    await p.getByRole("heading", { name: "值班记录", level: 1 }).waitFor();
    await p.getByRole("button", { name: "删除" }).first().click();
    const remove = p.getByRole("dialog", { name: "删除数据表" });
    const confirm = remove.getByRole("button", { name: "删除" });
    assert.equal(await confirm.isDisabled(), true, "deleting waits for the name");
    await remove.getByRole("textbox", { name: "输入名称以确认" }).fill("值班记录");
    await screenshot(p, "31-delete-table-zh");
    await confirm.click();
    await p.waitForURL((url) => url.pathname === `/apps/${sheet.app.id}`);
    const tables = (await ctx.server.api("GET", `/api/v1/apps/${sheet.app.id}/tables`)).body;
    assert.equal((tables.items ?? tables).length, 0);
  },
});

Object.assign(tests, {
  async "view tools: filter with an or-group, sort, group, hide a field, a second view — checked through the API"(ctx) {
    const sheet = await attendance(ctx.server);
    const f = sheet.fields;
    const rows = [["张三", "出勤", "8"], ["李四", "请假", "0"], ["王五", "出勤", "6.5"], ["赵六", "请假", "4"], ["钱七", "出勤", "7"]];
    const made = await ctx.server.api("POST", `${sheet.base}/records`, {
      records: rows.map(([name, state, hours]) => ({ fields: { [f["姓名"]]: name, [f["状态"]]: state, [f["工时"]]: hours } })),
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server, sheet.path);
    const grid = p.getByRole("grid", { name: "考勤记录" });
    await grid.getByRole("gridcell", { name: "钱七" }).waitFor();
    // Filter: 状态 等于 出勤, or (a group) 工时 大于 3.
    await p.getByRole("button", { name: "筛选", exact: true }).click();
    let dialog = p.getByRole("dialog", { name: "只显示符合条件的记录" });
    await dialog.getByRole("button", { name: "添加条件", exact: true }).click();
    await dialog.getByRole("combobox", { name: "字段" }).selectOption({ label: "状态" });
    await dialog.getByRole("combobox", { name: "条件" }).selectOption({ label: "等于" });
    await dialog.getByRole("combobox", { name: "值" }).selectOption("出勤");
    await dialog.getByRole("button", { name: "添加条件组" }).click();
    const nested = dialog.locator("fieldset.nested");
    await nested.getByRole("combobox", { name: "字段" }).selectOption({ label: "工时" });
    await nested.getByRole("combobox", { name: "条件" }).selectOption({ label: "大于" });
    await nested.getByRole("textbox", { name: "值" }).fill("3");
    await nested.getByRole("button", { name: "添加条件", exact: true }).click();
    await nested.getByRole("combobox", { name: "字段" }).nth(1).selectOption({ label: "姓名" });
    await nested.getByRole("combobox", { name: "条件" }).nth(1).selectOption({ label: "包含" });
    await nested.getByRole("textbox", { name: "值" }).nth(1).fill("四");
    // The top level: 出勤 OR (工时 > 3 AND 姓名 contains 四)… made "any": or.
    await dialog.getByRole("combobox", { name: "匹配方式" }).first().selectOption("or");
    await nested.getByRole("combobox", { name: "匹配方式" }).selectOption("and");
    await checkAccessibility(p, "filter dialog");
    await screenshot(p, "40-filter-zh");
    await Promise.all([p.waitForURL(/\?view=/), dialog.getByRole("button", { name: "保存" }).click()]);
    const viewId = new URL(p.url()).searchParams.get("view");
    const viewUrl = `${sheet.base}/views/${viewId}`;
    let view = (await ctx.server.api("GET", viewUrl)).body;
    assert.deepEqual(view.config.filter, {
      or: [
        { field: f["状态"], op: "eq", value: "出勤" },
        { and: [{ field: f["工时"], op: "gt", value: "3" }, { field: f["姓名"], op: "contains", value: "四" }] },
      ],
    });
    const shown = async () => (await ctx.server.api("GET", `${viewUrl}/records`)).body.items.map((r) => r.fields[f["姓名"]]);
    assert.deepEqual((await shown()).sort(), ["张三", "王五", "钱七"].sort(), "李四 has 0 hours, 赵六 has no 四");
    await grid.getByRole("gridcell", { name: "钱七" }).waitFor();
    assert.equal(await grid.getByRole("gridcell", { name: "赵六" }).count(), 0, "the grid shows the view's records");
    // Sort: 工时 descending.
    await p.getByRole("button", { name: "排序", exact: true }).click();
    dialog = p.getByRole("dialog", { name: "记录排序" });
    await dialog.getByRole("button", { name: "添加排序" }).click();
    await dialog.getByRole("combobox", { name: "排序字段" }).selectOption({ label: "工时" });
    await dialog.getByRole("combobox", { name: "顺序" }).selectOption("desc");
    await screenshot(p, "41-sort-zh");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    view = (await ctx.server.api("GET", viewUrl)).body;
    assert.equal(view.config.sort, `-${f["工时"]}`);
    assert.deepEqual(await shown(), ["张三", "钱七", "王五"]);
    await p.waitForFunction(() => document.querySelector('td.cell[data-row="0"][data-col="0"]')?.textContent === "张三");
    // Group by 状态.
    await p.getByRole("button", { name: "分组", exact: true }).click();
    dialog = p.getByRole("dialog", { name: "记录分组" });
    await dialog.getByRole("combobox", { name: "分组字段" }).selectOption({ label: "状态" });
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    view = (await ctx.server.api("GET", viewUrl)).body;
    assert.equal(view.config.group_by, f["状态"]);
    await p.locator("tr.group-band").filter({ hasText: "状态：出勤" }).waitFor();
    await screenshot(p, "42-group-zh");
    // Hide 工时 and move 状态 first.
    await p.getByRole("button", { name: "隐藏字段", exact: true }).click();
    dialog = p.getByRole("dialog", { name: "此视图显示的字段" });
    await dialog.getByRole("checkbox", { name: "显示“工时”" }).uncheck();
    await dialog.getByRole("button", { name: "上移“状态”" }).click();
    await dialog.getByRole("combobox", { name: "行高" }).selectOption("medium");
    await screenshot(p, "43-fields-zh");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    view = (await ctx.server.api("GET", viewUrl)).body;
    assert.deepEqual(view.config.fields, [{ field: f["状态"] }, { field: f["姓名"] }, { field: f["工时"], hidden: true }]);
    assert.equal(view.config.row_height, "medium");
    const headers = await grid.getByRole("columnheader").allTextContents();
    assert.deepEqual(headers.map((h) => h.trim()), ["状态", "姓名"]);
    // A second view, then the first is duplicated and the copy deleted.
    await p.getByRole("button", { name: "新建视图" }).click();
    dialog = p.getByRole("dialog", { name: "新建视图" });
    await dialog.getByRole("textbox", { name: "名称" }).fill("全部记录");
    await Promise.all([p.waitForURL((url) => url.searchParams.get("view") !== viewId), dialog.getByRole("button", { name: "创建" }).click()]);
    await p.getByRole("navigation", { name: "视图" }).getByRole("link", { name: "全部记录" }).waitFor();
    await grid.getByRole("gridcell", { name: "赵六" }).waitFor();
    const views = (await ctx.server.api("GET", `${sheet.base}/views`)).body;
    assert.deepEqual((views.items ?? views).map((v) => v.name), ["表格视图", "全部记录"]);
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "views zh-CN");
    await screenshot(p, "44-views-zh");
  },
});

Object.assign(tests, {
  async "Ctrl+End reaches row 100,000 through a positional window; the DOM keeps under 2,000 cells"(ctx) {
    const app = (await ctx.server.api("POST", "/api/v1/apps", { name: `十万行${Math.floor(Math.random() * 1e6)}` })).body;
    const table = (await ctx.server.api("POST", `/api/v1/apps/${app.id}/tables`, { name: "签到" })).body;
    const base = `/api/v1/apps/${app.id}/tables/${table.id}`;
    const field = (await ctx.server.api("POST", `${base}/fields`, { name: "序号", type: "text" })).body.key;
    const started = Date.now();
    for (let batch = 0; batch < 100; batch += 1) {
      const records = Array.from({ length: 1000 }, (_, i) => ({ fields: { [field]: `第${batch * 1000 + i + 1}行` } }));
      const reply = await ctx.server.api("POST", `${base}/records`, { records });
      assert.equal(reply.status, 201, JSON.stringify(reply.body).slice(0, 300));
    }
    console.log(`     seeded 100,000 rows in ${Date.now() - started} ms`);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server, `/apps/${app.id}/tables/${table.id}`);
    const grid = p.getByRole("grid", { name: "签到" });
    await grid.getByRole("gridcell", { name: "第1行", exact: true }).waitFor();
    assert.equal(await grid.getAttribute("aria-rowcount"), "100001", "the header row and 100,000 records");
    await p.locator('td.cell[data-row="0"][data-col="0"]').click();
    const jumped = Date.now();
    await p.keyboard.press("Control+End");
    await grid.getByRole("gridcell", { name: "第100000行", exact: true }).waitFor({ timeout: 3000 });
    console.log(`     Ctrl+End showed row 100,000 after ${Date.now() - jumped} ms`);
    const lastRow = await p.locator('td.cell.active').getAttribute("data-row");
    assert.equal(lastRow, "99999", "the last row is the active cell");
    const cells = await p.locator("td, th").count();
    assert.ok(cells < 2000, `${cells} cells in the DOM`);
    // The scrollbar dragged to the middle loads the window there, not everything before it.
    const requests = [];
    p.on("request", (request) => request.url().includes("/records?") && requests.push(new URL(request.url()).searchParams.get("offset")));
    await p.locator(".grid-scroll").evaluate((scroller) => (scroller.scrollTop = scroller.scrollHeight / 2));
    await grid.getByRole("gridcell", { name: /^第5\d{4}行$/ }).first().waitFor({ timeout: 3000 });
    assert.ok(requests.length <= 3 && requests.every((offset) => Number(offset) >= 49000), `windows fetched: ${requests}`);
    await screenshot(p, "50-hundred-thousand-zh");
    await checkAccessibility(p, "100,000 rows");
  },
});

Object.assign(tests, {
  async "admin: adds a member, a token (shown once) and a webhook, and sees its deliveries; a member gets 403"(ctx) {
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server);
    await p.getByRole("banner").getByRole("link", { name: "管理" }).click();
    const nav = p.getByRole("navigation", { name: "管理" });
    await nav.getByRole("link", { name: "成员" }).waitFor();
    await p.getByRole("heading", { name: "成员", level: 1 }).waitFor();
    // A member, with an initial password.
    const email = `duty${Math.floor(Math.random() * 1e6)}@school.example`;
    await p.getByRole("button", { name: "添加成员" }).click();
    let dialog = p.getByRole("dialog", { name: "添加成员" });
    await dialog.getByRole("textbox", { name: "名称" }).fill("李老师");
    await dialog.getByRole("textbox", { name: "邮箱" }).fill(email);
    await dialog.getByLabel("初始密码").fill("duty-pass-1");
    await checkAccessibility(p, "add member");
    await screenshot(p, "60-add-member-zh");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "创建" }).click()]);
    await p.getByRole("table", { name: "成员" }).getByRole("rowheader", { name: "李老师" }).waitFor();
    const members = (await ctx.server.api("GET", "/api/v1/members?page_size=1000")).body.items;
    const li = members.find((m) => m.email === email);
    assert.equal(li?.role, "member");
    assert.equal(li?.has_password, true);
    await screenshot(p, "61-members-zh");
    // A token: its secret is shown once, then it is listed; it works against the API.
    await nav.getByRole("link", { name: "API 令牌" }).click();
    await p.getByRole("button", { name: "新建令牌" }).click();
    dialog = p.getByRole("dialog", { name: "新建令牌" });
    await dialog.getByRole("textbox", { name: "名称" }).fill("考勤导出脚本");
    await dialog.getByRole("button", { name: "创建" }).click();
    await dialog.locator(".secret-value").filter({ hasText: /\S{20,}/ }).waitFor();
    const secret = (await dialog.locator(".secret-value").textContent()) ?? "";
    await screenshot(p, "62-token-once-zh");
    const used = await fetch(ctx.server.url + "/api/v1/me", { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(used.status, 200, "the new token works");
    assert.deepEqual((await used.json()).scopes, ["records:read"]);
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "完成" }).click()]);
    await p.getByRole("table", { name: "API 令牌" }).getByRole("rowheader", { name: "考勤导出脚本" }).waitFor();
    // A webhook on record events; a record change makes a delivery, listed with its attempts.
    await nav.getByRole("link", { name: "Webhook" }).click();
    await p.getByRole("button", { name: "新建订阅" }).click();
    dialog = p.getByRole("dialog", { name: "新建订阅" });
    await dialog.getByRole("textbox", { name: "接收地址" }).fill("https://1.1.1.1:9/tenon-hook");
    await dialog.getByRole("button", { name: "创建" }).click();
    await dialog.locator(".secret-value").filter({ hasText: /\S{16,}/ }).waitFor();
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "完成" }).click()]);
    await p.getByRole("table", { name: "Webhook 订阅" }).getByRole("link", { name: "https://1.1.1.1:9/tenon-hook" }).click();
    await p.getByRole("heading", { name: "Webhook 订阅", level: 1 }).waitFor();
    await p.getByRole("button", { name: "发送测试" }).click();
    await p.locator(".ping-result").filter({ hasText: "测试消息" }).waitFor({ timeout: 20000 });
    const sheet = await attendance(ctx.server, 1);
    assert.ok(sheet);
    const deliveries = p.getByRole("table", { name: "投递记录" });
    for (let i = 0; i < 30 && (await deliveries.getByRole("rowheader").count()) === 0; i += 1) {
      await p.waitForTimeout(500);
      await p.reload();
    }
    await deliveries.getByRole("cell", { name: "record.created" }).first().waitFor();
    await checkAccessibility(p, "webhook deliveries");
    assert.deepEqual(await englishText(p, [...LATIN, "HTTP", "ms", "URL"]), []);
    await screenshot(p, "63-webhook-deliveries-zh");
    // Audit and settings pages open; the member without the admin role gets 403.
    await nav.getByRole("link", { name: "审计日志" }).click();
    await p.getByRole("table", { name: "审计日志" }).getByRole("rowheader").first().waitFor();
    await nav.getByRole("link", { name: "组织" }).click();
    await p.getByRole("textbox", { name: "组织名称" }).waitFor();
    await screenshot(p, "64-settings-zh");
    const q = await page(ctx, { locale: "zh-CN" });
    await q.goto(ctx.server.url + "/login");
    await q.getByRole("textbox", { name: "邮箱" }).fill(email);
    await q.getByLabel("密码").fill("duty-pass-1");
    await q.getByRole("button", { name: "登录" }).click();
    await q.waitForURL((url) => !url.pathname.startsWith("/login"));
    assert.equal(await q.getByRole("banner").getByRole("link", { name: "管理" }).count(), 0, "no admin link for a member");
    const refused = await q.goto(ctx.server.url + "/admin/members");
    assert.equal(refused.status(), 403);
    await screenshot(q, "65-admin-403-zh");
    q.problems.splice(0, q.problems.length, ...q.problems.filter((x) => !/403/.test(x)));
  },
});

Object.assign(tests, {
  async "grid: Enter on a date cell opens the date picker; the chosen day is saved"(ctx) {
    const sheet = await attendance(ctx.server, 1);
    const reply = await ctx.server.api("POST", `${sheet.base}/fields`, { name: "日期", type: "date" });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server, sheet.path);
    await p.locator('td.cell[data-row="0"][data-col="3"]').click();
    await p.keyboard.press("Enter");
    const editor = p.locator(".cell-editor");
    assert.equal(await editor.getAttribute("type"), "date");
    await editor.fill("2026-12-04");
    await screenshot(p, "16-grid-date-zh");
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => document.getElementById("save-status")?.textContent === "所有更改已保存");
    const [row] = await records(ctx.server, sheet);
    assert.equal(row.fields[reply.body.key], "2026-12-04");
    assert.equal(await editor.getAttribute("type"), "text", "typing into the next cell is text again");
  },
});
