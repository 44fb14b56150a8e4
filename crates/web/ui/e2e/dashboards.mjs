// Browser tests of dashboards. The demo CRM's boss dashboard: its number and its chart (and the chart's
// table) change without a reload after a record is created through the API, and its revenue and
// receivables — booked from the demo's won orders into 主账套 — after a voucher is posted (a
// `voucher.posted` event; nothing is polled). And a builder editing, reordering and removing widgets and
// deleting a dashboard.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, tests } from "./tests.mjs";

/** The figure a widget region shows (its `data-value`), once it has one. */
async function figure(region) {
  const value = region.locator(".figure");
  await value.waitFor();
  return value.getAttribute("data-value");
}

Object.assign(tests, {
  async "dashboard: the number and the chart follow a new record, the ledger figure a posted voucher"(ctx) {
    const server = ctx.server;
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, "/apps/crm");
    await p.getByRole("link", { name: "老板看板 Boss view" }).click();
    await p.waitForURL(/\/dashboards\/boss$/);
    const orders = p.getByRole("region", { name: "本月订单 Orders this month" });
    const weekly = p.getByRole("region", { name: "每周订单 Orders by week" });
    const revenue = p.getByRole("region", { name: "本月收入 Revenue this month" });
    const before = Number(await figure(orders));
    // The chart's figures are also a table: the last row is this week; its count is the second column.
    const lastWeekCount = async () => {
      const rows = weekly.getByRole("table").getByRole("row");
      const count = await rows.count();
      return Number(await rows.nth(count - 1).getByRole("cell").first().textContent());
    };
    await weekly.getByRole("table").waitFor();
    // Columns are headed by the fields' names (and the date bucket), not their keys.
    await weekly.getByRole("columnheader", { name: "创建时间 Created at（周）" }).waitFor();
    await weekly.getByRole("columnheader", { name: "合计 含税金额 Amount incl. tax" }).waitFor();
    const weekBefore = await lastWeekCount();
    assert.ok(await weekly.locator(".chart-plot canvas").count() > 0, "the chart is drawn");
    // The demo's two won orders this month (¥1,130.34 and ¥28,800.00 incl. 13 % VAT), booked by the CRM's
    // voucher rule into 主账套 as the server started (the figures follow its vouchers' events if the page
    // was quicker than the flow).
    const ledgerFigure = (key, wanted, timeout) =>
      p.waitForFunction(
        ([key, wanted]) => document.querySelector(`[data-widget="${key}"] .figure`)?.getAttribute("data-value") === wanted,
        [key, wanted],
        { timeout },
      );
    await ledgerFigure("revenue", "26487.03", 15000);
    await ledgerFigure("receivables", "29930.34", 2500);
    assert.equal(await revenue.getByRole("alert").count(), 0);
    await checkAccessibility(p, "dashboard zh-CN");
    await screenshot(p, "95-dashboard-before");

    const created = await server.api("POST", "/api/v1/apps/crm/tables/orders/records", {
      fields: { title: "E2E 仪表盘", amount: "2000" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const started = Date.now();
    await p.waitForFunction(
      ([wanted]) => document.querySelector('[data-widget="orders_month"] .figure')?.getAttribute("data-value") === wanted,
      [String(before + 1)],
      { timeout: 2500 },
    );
    assert.ok(Date.now() - started < 2500);
    assert.equal(await lastWeekCount(), weekBefore + 1);
    await screenshot(p, "95-dashboard-after-record");
    // A records widget shows a true/false field as the grid does (a tick or nothing), never "false".
    const deals = p.getByRole("region", { name: "跟进中商机 Open deals" });
    await deals.getByRole("table").waitFor();
    const cells = await deals.getByRole("cell").allTextContents();
    assert.ok(cells.length > 0, "the open deals table has cells");
    assert.ok(!cells.some((text) => ["true", "false"].includes(text.trim())), `true/false shown as words: ${cells.join(" | ")}`);

    // A voucher posted through the API: revenue and receivables show it without a reload.
    const today = (await server.api("GET", "/api/v1/apps/crm/dashboards/boss/data?widgets=revenue")).body.today;
    const voucher = await server.api("POST", "/api/v1/ledger/books/主账套/vouchers", {
      date: today, word: "记", lines: [
        { summary: "销售", account: "1122", dimensions: { customer: "湖州优品" }, debit: "113.00", credit: "0" },
        { summary: "销售", account: "6001", debit: "0", credit: "100.00" },
        { summary: "销项税", account: "22210102", debit: "0", credit: "13.00" },
      ],
    });
    assert.equal(voucher.status, 201, JSON.stringify(voucher.body));
    const base = `/api/v1/ledger/books/主账套/vouchers/${voucher.body.id}`;
    assert.equal((await server.api("POST", `${base}/review`, {})).status, 200);
    // Reviewed is not posted: the figures stay.
    assert.equal(await revenue.locator(".figure").getAttribute("data-value"), "26487.03");
    const posted = Date.now();
    assert.equal((await server.api("POST", `${base}/post`, {})).status, 200);
    await ledgerFigure("revenue", "26587.03", 2500);
    await ledgerFigure("receivables", "30043.34", 2500);
    assert.ok(Date.now() - posted < 2500);
    await checkAccessibility(p, "dashboard after updates");
    await screenshot(p, "95-dashboard-after-voucher");

    // Add widget: a number of the orders table; the page comes back with it.
    await p.getByRole("button", { name: "添加组件" }).click();
    const dialog = p.getByRole("dialog", { name: "添加组件" });
    await dialog.getByRole("textbox", { name: "标题" }).fill("全部订单数");
    await dialog.getByRole("combobox", { name: "数据表" }).selectOption("orders");
    await checkAccessibility(p, "add widget dialog");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "创建" }).click()]);
    const added = p.getByRole("region", { name: "全部订单数" });
    assert.ok(Number(await figure(added)) >= before + 1);
    await screenshot(p, "95-dashboard-widget-added");
  },

  async "dashboard: a builder edits, reorders and removes widgets and deletes the dashboard"(ctx) {
    const server = ctx.server;
    const url = "/api/v1/apps/crm/dashboards/e2e_edit";
    const put = await server.api("PUT", url, {
      name: "E2E board",
      widgets: [
        { key: "orders", title: "Orders", type: "number", table: "orders", metric: "count" },
        { key: "cash", title: "Cash", type: "ledger", book: "主账套", account: "1002", measure: "balance" },
        { key: "top", title: "Top customers", type: "top", table: "orders", group_by: "customer", metric: "sum:amount", filter: { field: "stage", op: "eq", value: "won" } },
      ],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const definition = async () => (await server.api("GET", url)).body;
    const p = await page(ctx, { locale: "en-US" });
    await logIn(p, server, "/apps/crm/dashboards/e2e_edit");
    const order = () => p.locator(".dashboard > [data-widget]").evaluateAll((nodes) => nodes.map((node) => node.dataset.widget));
    const orders = p.getByRole("region", { name: "Orders" });
    await orders.locator(".figure").waitFor();
    assert.equal(await orders.getByRole("button", { name: "Move up" }).isDisabled(), true);

    // Edit: title and width; the page comes back with them, and the API says the same.
    await orders.getByRole("button", { name: "Edit widget" }).click();
    const dialog = p.getByRole("dialog", { name: "Edit widget" });
    await dialog.getByRole("textbox", { name: "Title" }).fill("All orders");
    await dialog.getByRole("spinbutton", { name: "Width" }).fill("6");
    assert.equal(await dialog.getByRole("textbox", { name: "Metric", exact: true }).inputValue(), "count");
    assert.equal(await dialog.getByRole("textbox", { name: "Book" }).isVisible(), false, "a number widget has no book");
    await checkAccessibility(p, "edit widget dialog");
    await screenshot(p, "96-dashboard-edit-widget");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "Save" }).click()]);
    const all = p.getByRole("region", { name: "All orders" });
    await all.locator(".figure").waitFor();
    assert.match(await all.getAttribute("class"), /\bw6\b/);
    const edited = await definition();
    assert.deepEqual([edited.widgets[0].title, edited.widgets[0].width, edited.widgets[0].metric], ["All orders", 6, "count"]);

    // A setting the server refuses: the dialog says why, nothing is stored.
    await all.getByRole("button", { name: "Edit widget" }).click();
    await dialog.getByRole("textbox", { name: "Metric", exact: true }).fill("sum:ghost");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByRole("alert").filter({ hasText: /\S/ }).first().waitFor();
    assert.equal((await definition()).widgets[0].metric, "count");
    await dialog.getByRole("button", { name: "Cancel" }).click();

    // Reorder by keyboard: Top customers moves up above Cash, the focus stays on it, the order is stored.
    const top = p.getByRole("region", { name: "Top customers" });
    await top.getByRole("button", { name: "Move up" }).focus();
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => [...document.querySelectorAll(".dashboard > [data-widget]")].map((n) => n.dataset.widget).join() === "orders,top,cash");
    assert.deepEqual(await order(), ["orders", "top", "cash"]);
    assert.deepEqual((await definition()).widgets.map((widget) => widget.key), ["orders", "top", "cash"]);
    assert.equal(await p.evaluate(() => document.activeElement?.closest("[data-widget]")?.dataset.widget), "top");
    // The filter the dialog does not show is kept as written.
    assert.deepEqual((await definition()).widgets[1].filter, { field: "stage", op: "eq", value: "won" });
    await screenshot(p, "96-dashboard-reordered");

    // Remove: the Cash widget goes, the others stay.
    await p.getByRole("region", { name: "Cash" }).getByRole("button", { name: "Edit widget" }).click();
    assert.equal(await dialog.getByRole("textbox", { name: "Account code" }).inputValue(), "1002");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "Remove widget" }).click()]);
    await p.getByRole("region", { name: "Top customers" }).waitFor();
    assert.equal(await p.getByRole("region", { name: "Cash" }).count(), 0);
    assert.deepEqual((await definition()).widgets.map((widget) => widget.key), ["orders", "top"]);

    // Delete the dashboard: only once its name is typed.
    await p.getByRole("button", { name: "Delete dashboard" }).click();
    const confirm = p.getByRole("dialog", { name: "Delete dashboard" });
    const remove = confirm.getByRole("button", { name: "Delete", exact: true });
    assert.equal(await remove.isDisabled(), true);
    await confirm.getByRole("textbox").fill("E2E board");
    await checkAccessibility(p, "delete dashboard dialog");
    await Promise.all([p.waitForURL(/\/apps\/[^/]+$/), remove.click()]);
    assert.equal((await server.api("GET", url)).status, 404);
    assert.equal(await p.getByRole("link", { name: "E2E board" }).count(), 0);
    await screenshot(p, "96-dashboard-deleted");
  },

  async "dashboard: a widget whose query fails shows its error in place; the others still render and stay live"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 3);
    const hours = sheet.fields["工时"];
    const url = `/api/v1/apps/${sheet.app.id}/dashboards/attendance`;
    const put = await server.api("PUT", url, {
      name: "考勤看板",
      widgets: [
        { key: "count", title: "出勤人次", type: "number", table: sheet.table.key, metric: "count" },
        { key: "hours", title: "总工时", type: "number", table: sheet.table.key, metric: `sum:${hours}` },
        { key: "by_state", title: "按状态", type: "chart", chart: "bar", table: sheet.table.key, group_by: sheet.fields["状态"], metrics: ["count"] },
      ],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    // The field a widget sums is deleted afterwards: its query fails, the others' do not.
    assert.equal((await server.api("DELETE", `${sheet.base}/fields/${hours}`)).status, 204);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, `/apps/${sheet.app.id}/dashboards/attendance`);
    const count = p.getByRole("region", { name: "出勤人次" });
    const broken = p.getByRole("region", { name: "总工时" });
    const chart = p.getByRole("region", { name: "按状态" });
    await count.locator(".figure").waitFor();
    assert.equal(await count.locator(".figure").getAttribute("data-value"), "3");
    const alert = broken.getByRole("alert");
    await alert.waitFor();
    const reason = (await alert.textContent())?.trim() ?? "";
    // Not "invalid request": what is wrong and what to do, in the page's language.
    assert.equal(reason, "这个组件用到的字段、视图、数据表或账套不存在（可能已被删除），所以无法计算。请编辑组件，改选现有的。");
    assert.deepEqual(await englishText(p, LATIN), []);
    assert.equal(await broken.locator(".figure").count(), 0, "no figure where the query failed");
    await chart.getByRole("table").waitFor();
    assert.equal(await count.getByRole("alert").count(), 0);
    assert.equal(await chart.getByRole("alert").count(), 0);
    await checkAccessibility(p, "dashboard with a failing widget");
    await screenshot(p, "97-dashboard-widget-error-zh");
    // The page stays live around it: a new record moves the count without a reload; the error stays.
    const made = await server.api("POST", `${sheet.base}/records`, { fields: { [sheet.fields["姓名"]]: "学生4" } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await p.waitForFunction(() => document.querySelector('[data-widget="count"] .figure')?.getAttribute("data-value") === "4", null, { timeout: 2500 });
    await alert.waitFor();
  },
});
