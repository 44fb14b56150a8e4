// Browser tests of view rename, duplicate and delete, of folding group bands, and of the organization
// chooser (an e-mail address in two organizations) with switching organization.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, tests } from "./tests.mjs";

async function viewNames(server, sheet) {
  const reply = await server.api("GET", `${sheet.base}/views`);
  return (reply.body.items ?? reply.body).map((v) => v.name);
}

Object.assign(tests, {
  async "views: rename, duplicate and delete a view; fold and unfold group bands"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const f = sheet.fields;
    const rows = [["张三", "出勤"], ["李四", "请假"], ["王五", "出勤"], ["赵六", "请假"], ["钱七", "出勤"]];
    await server.api("POST", `${sheet.base}/records`, {
      records: rows.map(([name, state]) => ({ fields: { [f["姓名"]]: name, [f["状态"]]: state } })),
    });
    const made = await server.api("POST", `${sheet.base}/views`, { name: "按状态", type: "grid", config: { group_by: f["状态"], sort: f["姓名"] } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, `${sheet.path}?view=${made.body.id}`);
    const grid = p.getByRole("grid", { name: "考勤记录" });
    await grid.getByRole("gridcell", { name: "钱七" }).waitFor();

    // Fold 请假 with the mouse: its records go, the band stays and says it is folded.
    const leave = grid.getByRole("button", { name: "状态：请假" });
    assert.equal(await leave.getAttribute("aria-expanded"), "true");
    await leave.click();
    await p.waitForFunction(() => !Array.from(document.querySelectorAll("td.cell")).some((td) => td.textContent === "李四"));
    assert.equal(await grid.getByRole("button", { name: "状态：请假" }).getAttribute("aria-expanded"), "false");
    assert.equal(await grid.getByRole("gridcell", { name: "赵六" }).count(), 0);
    await grid.getByRole("gridcell", { name: "钱七" }).waitFor();
    await checkAccessibility(p, "folded group zh-CN");
    assert.deepEqual(await englishText(p, LATIN), []);
    await screenshot(p, "90-group-folded-zh");
    // Arrow keys step over the folded records; Alt+↓ unfolds the group below, Alt+↑ folds the active one.
    await p.locator('td.cell[data-row="0"][data-col="0"]').click();
    await p.keyboard.press("Alt+ArrowDown");
    await grid.getByRole("gridcell", { name: "李四" }).waitFor();
    assert.equal(await grid.getByRole("button", { name: "状态：请假" }).getAttribute("aria-expanded"), "true");
    await p.keyboard.press("Alt+ArrowUp");
    await p.waitForFunction(() => document.querySelectorAll("td.cell").length > 0
      && !Array.from(document.querySelectorAll("td.cell")).some((td) => td.textContent === "张三"));
    assert.equal(await grid.getByRole("button", { name: "状态：出勤" }).getAttribute("aria-expanded"), "false");
    // The folds are remembered for this view in this browser.
    await p.reload();
    await grid.getByRole("gridcell", { name: "李四" }).waitFor();
    assert.equal(await grid.getByRole("gridcell", { name: "张三" }).count(), 0);
    await grid.getByRole("button", { name: "状态：出勤" }).click();
    await grid.getByRole("gridcell", { name: "张三" }).waitFor();

    // Rename.
    await p.getByRole("button", { name: "重命名视图" }).click();
    let dialog = p.getByRole("dialog", { name: "重命名视图" });
    await dialog.getByRole("textbox", { name: "名称" }).fill("按出勤状态");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    await p.getByRole("navigation", { name: "视图" }).getByRole("link", { name: "按出勤状态" }).waitFor();
    assert.deepEqual(await viewNames(server, sheet), ["按出勤状态"]);
    // Duplicate: a copy with the same settings, shown at once.
    await Promise.all([p.waitForURL((url) => url.searchParams.get("view") !== made.body.id), p.getByRole("button", { name: "复制视图" }).click()]);
    await p.getByRole("navigation", { name: "视图" }).getByRole("link", { name: "按出勤状态（副本）" }).waitFor();
    const copyId = new URL(p.url()).searchParams.get("view");
    const copy = (await server.api("GET", `${sheet.base}/views/${copyId}`)).body;
    assert.equal(copy.config.group_by, f["状态"], "the copy groups like the original");
    assert.equal(copy.config.sort, f["姓名"]);
    await screenshot(p, "91-view-duplicated-zh");
    // Delete the copy: back on the table, which keeps its records and the first view.
    await p.getByRole("button", { name: "删除视图" }).click();
    dialog = p.getByRole("dialog", { name: "删除视图" });
    assert.match(await dialog.textContent(), /按出勤状态（副本）/);
    await Promise.all([p.waitForURL((url) => !url.searchParams.has("view")), dialog.getByRole("button", { name: "删除" }).click()]);
    assert.deepEqual(await viewNames(server, sheet), ["按出勤状态"]);
    await grid.getByRole("gridcell", { name: "钱七" }).waitFor();
    await checkAccessibility(p, "views after delete zh-CN");
  },

  async "log-in offers the organizations of an address in two, by name; switching organization asks again"(ctx) {
    const server = ctx.server;
    const email = `teacher${Math.floor(Math.random() * 1e6)}@school.example`;
    const password = "two-schools-1";
    const member = await server.api("POST", "/api/v1/members", { name: "周老师", email, password });
    assert.equal(member.status, 201, JSON.stringify(member.body));
    const home = (await server.api("GET", "/api/v1/organization")).body.name;
    // A second organization whose owner has the same address and password (made with the CLI).
    const other = `第二小学${Math.floor(Math.random() * 1e4)}`;
    execFileSync(server.bin, ["--data", server.data, "org", "create", other, "--admin-email", email, "--admin-password", password, "--admin-name", "周老师"], {
      env: { ...process.env, TENON_LOG: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p = await page(ctx, { locale: "zh-CN" });
    await p.goto(server.url + "/login");
    await p.getByRole("textbox", { name: "邮箱" }).fill(email);
    await p.getByLabel("密码").fill(password);
    await p.getByRole("button", { name: "登录" }).click();
    const chooser = p.getByRole("group", { name: "你的邮箱属于多个组织，要进入哪一个？" });
    await chooser.getByRole("button", { name: other }).waitFor();
    await chooser.getByRole("button", { name: home }).waitFor();
    assert.equal(await chooser.getByRole("button").count(), 2);
    await checkAccessibility(p, "organization chooser zh-CN");
    assert.deepEqual(await englishText(p, LATIN), []);
    await screenshot(p, "92-org-chooser-zh");
    await Promise.all([p.waitForURL((url) => !url.pathname.startsWith("/login")), chooser.getByRole("button", { name: other }).click()]);
    const banner = p.getByRole("banner");
    await banner.getByText(other).waitFor();
    await screenshot(p, "93-org-chosen-zh");
    // Switch: the session ends, the address is kept, the password is asked again, the other one chosen.
    await Promise.all([p.waitForURL(/\/login/), banner.getByRole("button", { name: "切换组织" }).click()]);
    assert.equal(await p.getByRole("textbox", { name: "邮箱" }).inputValue(), email);
    await p.getByLabel("密码").fill(password);
    await p.getByRole("button", { name: "登录" }).click();
    await Promise.all([p.waitForURL((url) => !url.pathname.startsWith("/login")), p.getByRole("group", { name: "你的邮箱属于多个组织，要进入哪一个？" }).getByRole("button", { name: home }).click()]);
    await banner.getByText(home).waitFor();
  },
});
