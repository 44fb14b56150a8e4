// Browser tests of the admin pages beyond the first one in tests.mjs: departments as a tree, positions
// (custom roles) and a member's departments and positions; installed apps with their secret shown once;
// the audit log paged, filtered and shown in the organization's time zone. Each in both languages.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, logIn, page, tests } from "./tests.mjs";

const tag = () => Math.floor(Math.random() * 1e6);

async function openRowAction(p, table, label, name) {
  await p.getByRole("table", { name: table }).getByRole("button", { name: `${label} ${name}` }).click();
}

/** The same admin page in the other language: it renders, axe finds nothing, zh-CN shows no English. */
async function inOtherLanguage(ctx, path, locale, shot) {
  const q = await page(ctx, { locale });
  await logIn(q, ctx.server, path);
  await q.locator("table[data-island=api-table] tbody tr").first().waitFor();
  assert.equal(await q.getAttribute("html", "lang"), locale === "zh-CN" ? "zh-CN" : "en");
  if (locale === "zh-CN") assert.deepEqual(await englishText(q, [...LATIN, "ID"]), []);
  await checkAccessibility(q, `${path} ${locale}`);
  await screenshot(q, shot);
  return q;
}

Object.assign(tests, {
  async "admin: departments as a tree, positions, and a member's departments and positions (zh-CN, then en)"(ctx) {
    const n = tag();
    const grade = `初一年级${n}`;
    const klass = `初一(1)班${n}`;
    const office = `教务处${n}`;
    const teacher = `周老师${n}`;
    const made = await ctx.server.api("POST", "/api/v1/members", { name: teacher });
    assert.equal(made.status, 201);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, ctx.server, "/admin/departments");
    const nav = p.getByRole("navigation", { name: "管理" });
    await p.getByRole("heading", { name: "部门", level: 1 }).waitFor();
    // Departments: one at the top, one under it; the dialog's parent list shows the tree.
    for (const [name, parent] of [[grade, null], [klass, grade], [office, null]]) {
      await p.getByRole("button", { name: "新建部门" }).click();
      const dialog = p.getByRole("dialog", { name: "新建部门" });
      await dialog.getByRole("textbox", { name: "名称" }).fill(name);
      if (parent) {
        const option = dialog.getByRole("combobox", { name: "上级部门" }).locator("option", { hasText: parent });
        await option.waitFor({ state: "attached" });
        await dialog.getByRole("combobox", { name: "上级部门" }).selectOption({ label: (await option.textContent()) ?? "" });
      }
      await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "创建" }).click()]);
    }
    const departments = p.getByRole("table", { name: "部门" });
    await departments.getByRole("rowheader", { name: klass }).waitFor();
    assert.ok((await departments.getByRole("rowheader", { name: klass }).getAttribute("class"))?.includes("depth-"), "the class sits under its grade");
    // Rename a department.
    await openRowAction(p, "部门", "编辑", office);
    let dialog = p.getByRole("dialog", { name: "编辑部门" });
    assert.equal(await dialog.getByRole("textbox", { name: "名称" }).inputValue(), office, "the dialog opens with the department's name");
    await dialog.getByRole("textbox", { name: "名称" }).fill(`${office}（新）`);
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    await departments.getByRole("rowheader", { name: `${office}（新）` }).waitFor();
    // Deleting the grade asks first; cancelling keeps it; confirming is refused with a translated reason.
    await openRowAction(p, "部门", "删除", grade);
    const confirm = p.getByRole("dialog", { name: `删除“${grade}”？` });
    await confirm.getByText("此操作无法撤销。").waitFor();
    await checkAccessibility(p, "confirm delete");
    await confirm.getByRole("button", { name: "取消" }).click();
    await confirm.waitFor({ state: "hidden" });
    await openRowAction(p, "部门", "删除", grade);
    await confirm.getByRole("button", { name: "删除" }).click();
    await p.getByRole("alert").filter({ hasText: "该部门下还有 1 个子部门，请先移走或删除它们" }).waitFor();
    await screenshot(p, "90-department-refused-zh");
    await departments.getByRole("rowheader", { name: grade }).waitFor();
    // Positions: a bad code is refused with the reason next to the field; then created with a holder.
    await nav.getByRole("link", { name: "岗位" }).click();
    await p.getByRole("heading", { name: "岗位", level: 1 }).waitFor();
    await p.getByRole("button", { name: "新建岗位" }).click();
    dialog = p.getByRole("dialog", { name: "新建岗位" });
    await dialog.getByRole("textbox", { name: "名称" }).fill(`德育主任${n}`);
    await dialog.getByRole("textbox", { name: "代码" }).fill("Dean!");
    await dialog.getByRole("group", { name: "担任成员" }).getByRole("checkbox", { name: teacher }).check();
    await dialog.getByRole("button", { name: "创建" }).click();
    await dialog.getByText("不是有效的代码（小写英文字母、数字和下划线，以字母开头）").waitFor();
    assert.equal(await dialog.getByRole("textbox", { name: "名称" }).inputValue(), `德育主任${n}`, "nothing typed is lost");
    await checkAccessibility(p, "new position refused");
    await screenshot(p, "91-position-refused-zh");
    await dialog.getByRole("textbox", { name: "代码" }).fill(`dean_${n}`);
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "创建" }).click()]);
    const positions = p.getByRole("table", { name: "岗位" });
    await positions.getByRole("row").filter({ hasText: `德育主任${n}` }).filter({ hasText: teacher }).waitFor();
    await screenshot(p, "92-positions-zh");
    // A member's departments and positions, from the member's dialog.
    await nav.getByRole("link", { name: "成员" }).click();
    await openRowAction(p, "成员", "编辑", teacher);
    dialog = p.getByRole("dialog", { name: "编辑成员" });
    await dialog.getByRole("group", { name: "部门" }).getByRole("checkbox", { name: klass }).check();
    const held = dialog.getByRole("group", { name: "岗位" }).getByRole("checkbox", { name: `德育主任${n}` });
    assert.equal(await held.isChecked(), true, "the dialog shows the positions held");
    await held.uncheck();
    await checkAccessibility(p, "edit member");
    await screenshot(p, "93-edit-member-zh");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    await p.getByRole("table", { name: "成员" }).getByRole("row").filter({ hasText: teacher }).filter({ hasText: klass }).waitFor();
    const member = (await ctx.server.api("GET", `/api/v1/members/${made.body.id}`)).body;
    const klassId = (await ctx.server.api("GET", "/api/v1/departments?page_size=1000")).body.items.find((d) => d.name === klass).id;
    assert.ok(member.department_ids.includes(klassId), "the member joined the class");
    const role = (await ctx.server.api("GET", `/api/v1/roles/dean_${n}`)).body;
    assert.deepEqual(role.member_ids, [], "the member no longer holds the position");
    // The demo organization's own names (departments, positions, members) are data, not untranslated UI text.
    const demoNames = ["Demo Tech", "Management", "Sales manager", "Sales", "East China", "Finance", "Engineering",
      "Academic office", "Housing coordinator", "Admin", "Tom Müller"];
    assert.deepEqual(await englishText(p, [...LATIN, ...demoNames]), []);
    await screenshot(p, "94-members-zh");
    // The same pages in English.
    const q = await inOtherLanguage(ctx, "/admin/roles", "en-US", "95-positions-en");
    await q.getByRole("table", { name: "Positions" }).getByRole("rowheader", { name: `德育主任${n}` }).waitFor();
    await q.getByRole("button", { name: "New position" }).click();
    await q.getByRole("dialog", { name: "New position" }).getByRole("textbox", { name: "Code" }).waitFor();
    await screenshot(q, "96-new-position-en");
    await q.goto(ctx.server.url + "/admin/departments");
    await q.getByRole("table", { name: "Departments" }).getByRole("rowheader", { name: klass }).waitFor();
    await checkAccessibility(q, "departments en");
  },

  async "admin: installed apps show a secret once, ask before a new secret or uninstalling; the audit log pages and filters (en, then zh-CN)"(ctx) {
    const name = `Attendance machine ${tag()}`;
    const p = await page(ctx, { locale: "en-US", timezoneId: "America/New_York" });
    await logIn(p, ctx.server, "/admin/apps");
    await p.getByRole("heading", { name: "Installed apps", level: 1 }).waitFor();
    await p.getByRole("button", { name: "Register an app" }).click();
    const dialog = p.getByRole("dialog", { name: "Register an app" });
    await dialog.getByRole("textbox", { name: "Name" }).fill(name);
    await dialog.getByRole("checkbox", { name: "Read the directory" }).check();
    await dialog.getByRole("combobox", { name: "Event format" }).selectOption({ label: "DingTalk-compatible" });
    await dialog.getByRole("button", { name: "Create" }).click();
    const secret = dialog.locator('.secret-value[data-key="client_secret"]');
    await secret.filter({ hasText: /\S{20,}/ }).waitFor();
    const clientId = (await dialog.locator('.secret-value[data-key="client_id"]').textContent()) ?? "";
    const clientSecret = (await secret.textContent()) ?? "";
    await checkAccessibility(p, "app secret");
    await screenshot(p, "90b-app-secret-once-en");
    const token = await fetch(ctx.server.url + "/api/v1/oauth/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
    });
    assert.equal(token.status, 200, "the app's credentials work");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "Done" }).click()]);
    const apps = p.getByRole("table", { name: "Installed apps" });
    const row = apps.getByRole("row", { name: new RegExp(`${name}.*DingTalk-compatible`) });
    await row.waitFor();
    const text = (await row.textContent()) ?? "";
    assert.ok(text.includes("Read records") && text.includes("Read the directory"), text);
    assert.equal(await p.getByText(clientSecret).count(), 0, "the secret is not shown again");
    await screenshot(p, "91b-installed-apps-en");
    // A new secret: asked first, shown once, and the old one stops working.
    await openRowAction(p, "Installed apps", "New secret", name);
    const confirm = p.getByRole("dialog", { name: `Give ${name} a new secret?` });
    await confirm.getByRole("button", { name: "New secret" }).click();
    const rotated = p.getByRole("dialog", { name: "New app secret" });
    await rotated.locator('.secret-value[data-key="client_secret"]').filter({ hasText: /\S{20,}/ }).waitFor();
    assert.notEqual(await rotated.locator('.secret-value[data-key="client_secret"]').textContent(), clientSecret);
    await screenshot(p, "92b-new-secret-en");
    await rotated.getByRole("button", { name: "Done" }).click();
    const old = await fetch(ctx.server.url + "/api/v1/oauth/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
    });
    assert.equal(old.status, 401, "the old secret no longer works");
    // Uninstalling asks first; cancelling keeps the app.
    await openRowAction(p, "Installed apps", "Uninstall", name);
    const ask = p.getByRole("dialog", { name: `Uninstall ${name}?` });
    await ask.getByText("The app loses access to this organization at once.").waitFor();
    await ask.getByRole("button", { name: "Cancel" }).click();
    await apps.getByRole("rowheader", { name }).waitFor();
    await openRowAction(p, "Installed apps", "Uninstall", name);
    await ask.getByRole("button", { name: "Uninstall" }).click();
    await apps.getByRole("rowheader", { name }).waitFor({ state: "detached" });
    const installed = (await ctx.server.api("GET", "/api/v1/installations?page_size=200")).body.items;
    assert.equal(installed.filter((i) => i.name === name).length, 0, "uninstalled");
    // The audit log: pages by cursor, times in the organization's zone (Shanghai), filters.
    for (let i = 0; i < 60 && !(await ctx.server.api("GET", "/api/v1/audit?page_size=50")).body.next_cursor; i += 1) {
      await ctx.server.api("POST", "/api/v1/departments", { name: `Room ${i}` });
    }
    await p.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Audit log" }).click();
    const audit = p.getByRole("table", { name: "Audit log" });
    await audit.getByRole("rowheader").first().waitFor();
    const [latest] = (await ctx.server.api("GET", "/api/v1/audit?page_size=1")).body.items;
    const at = new Date(latest.at);
    const pad = (x) => String(x).padStart(2, "0");
    const hour = (at.getUTCHours() + 8) % 24;
    const clock = `${pad(((hour + 11) % 12) + 1)}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`;
    const shown = (await audit.getByRole("rowheader").first().textContent()) ?? "";
    assert.ok(shown.includes(clock), `${shown} shows Shanghai's ${clock}`);
    assert.equal(await p.locator(".time-zone").textContent(), "Asia/Shanghai");
    const pager = p.getByRole("navigation", { name: "Audit log pages" });
    assert.equal(await pager.getByRole("button", { name: "Previous page" }).isDisabled(), true);
    const first = await audit.getByRole("rowheader").allTextContents();
    assert.equal(first.length, 50, "a page of 50");
    const next = (await ctx.server.api("GET", "/api/v1/audit?page_size=50")).body.next_cursor;
    const secondPage = (await ctx.server.api("GET", `/api/v1/audit?page_size=50&cursor=${encodeURIComponent(next)}`)).body.items;
    await pager.getByRole("button", { name: "Next page" }).click();
    await pager.getByText("Page 2").waitFor();
    assert.equal(await audit.getByRole("rowheader").count(), secondPage.length, "the second page");
    await screenshot(p, "93b-audit-page-2-en");
    await pager.getByRole("button", { name: "Previous page" }).click();
    await pager.getByText("Page 1").waitFor();
    await p.getByRole("combobox", { name: "What" }).selectOption({ label: "Installed app" });
    await p.getByRole("button", { name: "Filter" }).click();
    await audit.getByRole("cell", { name: /^Installed app: / }).first().waitFor();
    // The filtered page replaces the whole table: wait until no other kind is left on it.
    await audit.locator("tbody td:nth-child(4)").filter({ hasNotText: /^Installed app$/ }).first().waitFor({ state: "detached" });
    const kinds = await audit.locator("tbody td:nth-child(4)").allTextContents();
    assert.ok(kinds.length > 0 && kinds.every((kind) => kind === "Installed app"), kinds.join(","));
    await checkAccessibility(p, "audit filtered");
    await screenshot(p, "94b-audit-filtered-en");
    // A day range in the organization's zone: from tomorrow (there) on, nothing.
    const tomorrow = new Date(Date.now() + 8 * 3600e3 + 24 * 3600e3).toISOString().slice(0, 10);
    await p.getByLabel("From").fill(tomorrow);
    await p.getByRole("button", { name: "Filter" }).click();
    await audit.getByRole("cell", { name: "No entries match." }).waitFor();
    // The same pages in Chinese; a member without the admin role gets 403.
    const q = await inOtherLanguage(ctx, "/admin/apps", "zh-CN", "95b-installed-apps-zh");
    await q.getByRole("button", { name: "注册应用" }).waitFor();
    await q.goto(ctx.server.url + "/admin/audit");
    await q.getByRole("table", { name: "审计日志" }).getByRole("rowheader").first().waitFor();
    await q.getByRole("button", { name: "下一页" }).waitFor();
    assert.deepEqual(await englishText(q, [...LATIN, "ID"]), []);
    await checkAccessibility(q, "audit zh-CN");
    await screenshot(q, "96b-audit-zh");
    const email = `member${tag()}@school.example`;
    assert.equal((await ctx.server.api("POST", "/api/v1/members", { name: "孙老师", email, password: "member-pass-1" })).status, 201);
    const r = await page(ctx, { locale: "zh-CN" });
    await r.goto(ctx.server.url + "/login");
    await r.getByRole("textbox", { name: "邮箱" }).fill(email);
    await r.getByLabel("密码").fill("member-pass-1");
    await r.getByRole("button", { name: "登录" }).click();
    await r.waitForURL((url) => !url.pathname.startsWith("/login"));
    for (const path of ["/admin/roles", "/admin/apps", "/admin/audit"]) {
      const refused = await r.goto(ctx.server.url + path);
      assert.equal(refused.status(), 403, path);
    }
    await screenshot(r, "97b-admin-apps-403-zh");
    r.problems.splice(0, r.problems.length, ...r.problems.filter((x) => !/403/.test(x)));
  },
});
