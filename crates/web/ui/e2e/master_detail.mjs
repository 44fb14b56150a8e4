// Browser tests of master–detail forms: the owner makes a link field a sub-table in the designer; an
// outsider on a phone (375 px) fills in an order with two lines — "Add row", "Remove row", a refused
// line kept at its cell — with JavaScript on and off, and the order arrives with its lines and total.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, logIn, page, tests } from "./tests.mjs";

const PHONE = { width: 375, height: 740 };

/** An app with orders and their lines (the order's total is a rollup over them). */
async function shop(server) {
  const app = (await server.api("POST", "/api/v1/apps", { name: `订货${Math.floor(Math.random() * 1e6)}` })).body;
  const orders = (await server.api("POST", `/api/v1/apps/${app.id}/tables`, {
    name: "订单", key: "orders", fields: [{ name: "客户", key: "customer", type: "text", required: true }],
  })).body;
  const lines = (await server.api("POST", `/api/v1/apps/${app.id}/tables`, {
    name: "订单明细", key: "lines", fields: [
      { name: "商品", key: "product", type: "text", required: true },
      { name: "数量", key: "qty", type: "number" },
      { name: "单价", key: "price", type: "currency" },
      { name: "金额", key: "amount", type: "formula", options: { formula: "ROUND({单价} * {数量}, 2)" } },
      { name: "订单", key: "order", type: "link", options: { table: "orders", multiple: false, inverse_key: "lines", inverse_name: "明细" } },
    ],
  })).body;
  assert.ok(lines.id, JSON.stringify(lines));
  const base = `/api/v1/apps/${app.id}/tables/${orders.id}`;
  const total = await server.api("POST", `${base}/fields`, {
    name: "合计", key: "total", type: "rollup", options: { link: "lines", field: "amount", function: "sum" },
  });
  assert.equal(total.status, 201, JSON.stringify(total.body));
  return { app, orders, base, linesBase: `/api/v1/apps/${app.id}/tables/${lines.id}`, path: `/apps/${app.id}/tables/${orders.id}` };
}

/** Fills row `i` (0-based) of the sub-table. */
async function fillRow(p, i, product, qty, price) {
  const row = p.getByRole("table", { name: "明细" }).getByRole("row").nth(i + 1);
  await row.getByRole("textbox", { name: "商品" }).fill(product);
  await row.getByRole("textbox", { name: "数量" }).fill(qty);
  await row.getByRole("textbox", { name: "单价" }).fill(price);
}

async function orderFor(server, shopped, customer) {
  const reply = await server.api("GET", `${shopped.base}/records?page_size=100`);
  return reply.body.items.find((order) => order.fields.customer === customer);
}

Object.assign(tests, {
  async "master-detail: the designer makes a sub-table; an order with two lines on a phone, with and without JavaScript"(ctx) {
    const server = ctx.server;
    const shopped = await shop(server);
    const made = await server.api("POST", `${shopped.base}/views`, { name: "下单", type: "form", config: { fields: ["customer"] } });
    assert.equal(made.status, 201, JSON.stringify(made.body));

    // The owner adds the link as a sub-table of three fields in the designer.
    const d = await page(ctx, { locale: "zh-CN" });
    await logIn(d, server, `${shopped.path}?view=${made.body.id}`);
    await d.getByRole("heading", { name: "表单设计" }).waitFor();
    await d.getByRole("combobox", { name: "字段" }).selectOption({ label: "明细" });
    await d.getByRole("button", { name: "添加到表单" }).click();
    const item = d.getByRole("list", { name: "表单字段" }).getByRole("listitem", { name: "明细" });
    await item.getByRole("checkbox", { name: "作为子表（在表单中填写多行）" }).check();
    const columns = item.getByRole("group", { name: "每行填写的字段" });
    for (const name of ["商品", "数量", "单价"]) await columns.getByRole("checkbox", { name }).check();
    await columns.getByRole("spinbutton", { name: "最少行数" }).fill("1");
    await d.getByRole("checkbox", { name: "公开" }).check();
    await checkAccessibility(d, "form designer with a sub-table");
    await screenshot(d, "md0-designer-subtable");
    await Promise.all([d.waitForEvent("load"), d.getByRole("button", { name: "保存" }).click()]);
    const view = (await server.api("GET", `${shopped.base}/views/${made.body.id}`)).body;
    assert.deepEqual(view.config.fields[1], { field: "lines", subtable: { fields: ["product", "qty", "price"], min_rows: 1 } });
    const link = await d.getByRole("textbox", { name: "公开链接" }).inputValue();

    for (const javaScriptEnabled of [true, false]) {
      const tag = javaScriptEnabled ? "js" : "nojs";
      const customer = javaScriptEnabled ? "茶馆甲" : "茶馆乙";
      const o = await page(ctx, { locale: "zh-CN", viewport: PHONE, javaScriptEnabled });
      await o.goto(link);
      const table = o.getByRole("table", { name: "明细" });
      await table.waitFor();
      assert.equal(await table.getByRole("row").count(), 2, "a header and one row to start");
      await o.getByRole("textbox", { name: "客户" }).fill(customer);
      await fillRow(o, 0, "龙井", "2", "30.00");
      // Add a row, then a third, and remove the third again: the typed values stay.
      await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "添加一行" }).click()]);
      await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "添加一行" }).click()]);
      assert.equal(await table.getByRole("row").count(), 4);
      assert.equal(await o.getByRole("textbox", { name: "客户" }).inputValue(), customer);
      assert.equal(await table.getByRole("row").nth(1).getByRole("textbox", { name: "商品" }).inputValue(), "龙井");
      await Promise.all([o.waitForEvent("load"), table.getByRole("row").nth(3).getByRole("button", { name: "删除此行" }).click()]);
      assert.equal(await table.getByRole("row").count(), 3);
      // A line whose quantity is not a number: refused at that cell, nothing written, values kept.
      await fillRow(o, 1, "茶杯", "六", "5.50");
      await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
      await o.getByRole("alert").filter({ hasText: "请修改标出的项目后再提交" }).waitFor();
      const bad = table.getByRole("row").nth(2).getByRole("textbox", { name: "数量" });
      assert.equal(await bad.getAttribute("aria-invalid"), "true");
      assert.equal(await bad.inputValue(), "六");
      // The cell's message names the expected value in Chinese (数字), not the field type's code.
      await o.getByText("不是有效的数字").first().waitFor();
      assert.deepEqual(await englishText(o, LATIN), []);
      assert.equal(await orderFor(server, shopped, customer), undefined, "nothing written");
      // axe runs as a script in the page: only where the page runs scripts.
      if (javaScriptEnabled) await checkAccessibility(o, `public form with a sub-table (${tag})`);
      await screenshot(o, `md1-subtable-refused-phone-${tag}`);
      const width = await o.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `no sideways scrolling at 375 px (${width})`);
      await bad.fill("6");
      await Promise.all([o.waitForEvent("load"), o.getByRole("button", { name: "提交" }).click()]);
      await o.getByText("谢谢，我们已收到您的提交。").waitFor();
      await screenshot(o, `md2-subtable-done-phone-${tag}`);
      const order = await orderFor(server, shopped, customer);
      assert.ok(order, "the order was written");
      assert.equal(order.fields.total, "93.00");
      assert.deepEqual(order.fields.lines.map((line) => line.name), ["龙井", "茶杯"]);
    }
  },
});
