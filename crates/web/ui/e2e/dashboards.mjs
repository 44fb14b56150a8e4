// Browser test of the demo CRM's boss dashboard: its number and its chart (and the chart's table) change
// without a reload after a record is created through the API, and its revenue after a voucher is posted.
import assert from "node:assert/strict";
import { checkAccessibility, screenshot } from "./harness.mjs";
import { logIn, page, tests } from "./tests.mjs";

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
    // No book is linked to the demo yet: the ledger widget says so in place; the others still answer.
    await revenue.getByRole("alert").waitFor();
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

    // A book and a posted voucher: the revenue widget shows it without a reload.
    const book = await server.api("POST", "/api/v1/ledger/books", { name: "主账套", template: "cas", base_currency: "CNY" });
    assert.equal(book.status, 201, JSON.stringify(book.body));
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
    assert.equal((await server.api("POST", `${base}/post`, {})).status, 200);
    await p.waitForFunction(
      () => document.querySelector('[data-widget="revenue"] .figure')?.getAttribute("data-value") === "100.00",
      [],
      { timeout: 2500 },
    );
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
});
