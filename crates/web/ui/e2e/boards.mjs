// Browser tests of the kanban, gallery and calendar views (#23): made with the view type switch, a card
// dragged and moved with "Move to…" by keyboard, a refused move put back, a new card in a column, live
// updates, gallery covers, a calendar event dragged to another day.
import assert from "node:assert/strict";
import { deflateSync, crc32 } from "node:zlib";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, tests } from "./tests.mjs";

/** Polls `read` until `check` holds (the server's answer after a UI write), at most 5 s. */
async function until(read, check, what) {
  let last;
  for (let i = 0; i < 50; i++) {
    last = await read();
    if (check(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what}: last seen ${JSON.stringify(last)}`);
}

async function recordNamed(server, sheet, name) {
  const reply = await server.api("GET", `${sheet.base}/records?page_size=1000`);
  return reply.body.items.find((r) => r.fields[sheet.fields["姓名"]] === name);
}

/** A small PNG of one colour, with a lighter band (so a cover is visibly an image). */
function png(width, height, [r, g, b]) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    const light = y > height / 3 && y < (height * 2) / 3;
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = light ? Math.min(255, r + 80) : r;
      row[2 + x * 3] = light ? Math.min(255, g + 80) : g;
      row[3 + x * 3] = light ? Math.min(255, b + 80) : b;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

async function upload(server, name, bytes) {
  const response = await fetch(`${server.url}/api/v1/attachments?filename=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "image/png" },
    body: bytes,
  });
  const body = await response.json();
  assert.equal(response.status, 201, JSON.stringify(body));
  return body.id;
}

/** Makes a view through the new view dialog's type switch; resolves when its page is shown. */
async function newView(p, { name, type, settings, zh = true }) {
  await p.getByRole("button", { name: zh ? "新建视图" : "New view" }).click();
  const dialog = p.getByRole("dialog", { name: zh ? "新建视图" : "New view" });
  await dialog.getByRole("textbox", { name: zh ? "名称" : "Name" }).fill(name);
  await dialog.getByRole("radio", { name: type }).check();
  for (const [label, option] of settings) await dialog.getByRole("combobox", { name: label, exact: true }).selectOption({ label: option });
  const before = new URL(p.url()).searchParams.get("view");
  await Promise.all([
    p.waitForURL((url) => url.searchParams.has("view") && url.searchParams.get("view") !== before),
    dialog.getByRole("button", { name: zh ? "创建" : "Create" }).click(),
  ]);
}

Object.assign(tests, {
  async "kanban: the type switch makes a board; drag a card, Move to… by keyboard, a refused move goes back, a new card in a column"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const f = sheet.fields;
    const made = await server.api("POST", `${sheet.base}/records`, {
      records: [["张三", "出勤"], ["李四", "请假"], ["王五", null]].map(([name, state]) => ({ fields: { [f["姓名"]]: name, [f["状态"]]: state, [f["工时"]]: "8" } })),
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    await p.getByRole("grid", { name: "考勤记录" }).waitFor();
    // The switch names each type; a kanban asks for its Group by field.
    await p.getByRole("button", { name: "新建视图" }).click();
    const dialog = p.getByRole("dialog", { name: "新建视图" });
    for (const name of ["表格", "表单", "看板", "日历", "画廊"]) await dialog.getByRole("radio", { name }).waitFor();
    await dialog.getByRole("radio", { name: "看板" }).check();
    await dialog.getByRole("combobox", { name: "分组字段" }).waitFor();
    await dialog.getByRole("combobox", { name: "封面字段" }).waitFor();
    assert.equal(await dialog.getByRole("combobox", { name: "日期字段", exact: true }).count(), 0, "a kanban has no date field");
    await checkAccessibility(p, "new view dialog, kanban");
    await screenshot(p, "60-new-kanban-zh");
    await dialog.getByRole("button", { name: "取消" }).click();
    await newView(p, { name: "考勤看板", type: "看板", settings: [["分组字段", "状态"]] });
    const views = (await server.api("GET", `${sheet.base}/views`)).body;
    const board = (views.items ?? views).find((v) => v.name === "考勤看板");
    assert.equal(board.type, "kanban");
    assert.equal(board.config.group_field, f["状态"]);

    const present = p.getByRole("list", { name: "出勤" });
    const leave = p.getByRole("list", { name: "请假" });
    const none = p.getByRole("list", { name: "未填写" });
    await present.getByRole("listitem", { name: "张三" }).waitFor();
    await leave.getByRole("listitem", { name: "李四" }).waitFor();
    await none.getByRole("listitem", { name: "王五" }).waitFor();
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "kanban zh-CN");
    await screenshot(p, "61-kanban-zh");

    // Drag 张三 from 出勤 to 请假: the record is written through the API.
    await present.getByRole("listitem", { name: "张三" }).dragTo(leave);
    await leave.getByRole("listitem", { name: "张三" }).waitFor();
    await until(() => recordNamed(server, sheet, "张三"), (r) => r.fields[f["状态"]] === "请假", "张三 moved to 请假");
    await p.getByRole("status").filter({ hasText: "已把“张三”移动到“请假”" }).waitFor();
    assert.equal(await p.locator('section.column:has(ul[aria-label="请假"]) .count').textContent(), "2");

    // The keyboard way: 李四's Move to… button, then Tab to 未填写 and Enter.
    const move = leave.getByRole("listitem", { name: "李四" }).getByRole("button", { name: "移动到…" });
    await move.focus();
    await p.keyboard.press("Enter");
    const moveDialog = p.getByRole("dialog", { name: "把“李四”移动到" });
    await moveDialog.waitFor();
    await checkAccessibility(p, "move to dialog");
    await screenshot(p, "62-move-to-zh");
    assert.deepEqual((await moveDialog.locator(".move-target").allTextContents()), ["出勤", "未填写"]);
    await p.keyboard.press("Tab");
    await p.keyboard.press("Enter");
    await none.getByRole("listitem", { name: "李四" }).waitFor();
    await until(() => recordNamed(server, sheet, "李四"), (r) => (r.fields[f["状态"]] ?? null) === null, "李四 moved to none");
    // Focus followed the card.
    await p.waitForFunction(() => document.activeElement?.closest("[data-record]")?.getAttribute("aria-label") === "李四");

    // Someone else changes 王五 while this page still shows the old version: the move is refused (409),
    // the card goes back and the page says why.
    const wang = await recordNamed(server, sheet, "王五");
    const stale = String(wang.version);
    await server.api("PATCH", `${sheet.base}/records/${wang.id}`, { fields: { [f["工时"]]: "6" } });
    // The event stream brings the new version in; the page is made to hold the old one, as if it had missed it.
    await p.waitForFunction((id) => document.querySelector(`[data-record="${id}"]`)?.getAttribute("data-version") !== null, wang.id);
    await p.waitForTimeout(600);
    await none.getByRole("listitem", { name: "王五" }).evaluate((card, version) => (card.dataset.version = version), stale);
    await none.getByRole("listitem", { name: "王五" }).dragTo(present);
    await p.getByRole("status").filter({ hasText: "别人刚刚修改了“王五”" }).waitFor();
    await none.getByRole("listitem", { name: "王五" }).waitFor();
    assert.equal((await recordNamed(server, sheet, "王五")).fields[f["状态"]] ?? null, null, "the refused move wrote nothing");
    await screenshot(p, "63-move-refused-zh");

    // A new card in 出勤: the record is made with that choice, and its detail opens to name it.
    await p.getByRole("button", { name: "在“出勤”中新增记录" }).click();
    const detail = p.getByRole("dialog", { name: "新记录" });
    await detail.getByRole("textbox", { name: "姓名" }).fill("赵六");
    await detail.getByRole("button", { name: "保存" }).click();
    await detail.waitFor({ state: "hidden" });
    await present.getByRole("listitem", { name: "赵六" }).waitFor();
    assert.equal((await recordNamed(server, sheet, "赵六")).fields[f["状态"]], "出勤");

    // Live: a record made elsewhere appears in its column without a reload.
    await server.api("POST", `${sheet.base}/records`, { fields: { [f["姓名"]]: "钱七", [f["状态"]]: "请假" } });
    await leave.getByRole("listitem", { name: "钱七" }).waitFor({ timeout: 2000 });
    // A card's title opens the record.
    await leave.getByRole("listitem", { name: "钱七" }).getByRole("button", { name: "钱七" }).click();
    await p.getByRole("dialog", { name: "钱七" }).waitFor();
    await p.keyboard.press("Escape");
    await checkAccessibility(p, "kanban after moves");
    await screenshot(p, "64-kanban-after-zh");
    await p.setViewportSize({ width: 375, height: 740 });
    await screenshot(p, "64-kanban-after-zh-phone");
  },

  async "gallery: cards show their cover image, title and chosen fields (English)"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const f = sheet.fields;
    const photo = await server.api("POST", `${sheet.base}/fields`, { name: "照片", type: "attachment", options: { types: ["image/*"] } });
    assert.equal(photo.status, 201, JSON.stringify(photo.body));
    const colours = [[40, 110, 200], [220, 120, 40], [60, 160, 90]];
    const names = ["张三", "李四", "王五"];
    for (const [i, name] of names.entries()) {
      const id = i < 2 ? await upload(server, `${name}.png`, png(160, 100, colours[i])) : null;
      const reply = await server.api("POST", `${sheet.base}/records`, {
        fields: { [f["姓名"]]: name, [f["状态"]]: i === 1 ? "请假" : "出勤", ...(id ? { [photo.body.key]: [id] } : {}) },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
    const p = await page(ctx);
    await logIn(p, server, sheet.path);
    await p.getByRole("grid", { name: "考勤记录" }).waitFor();
    await newView(p, { name: "Photos", type: "Gallery", settings: [["Cover field", "照片"]], zh: false });
    const gallery = p.getByRole("list", { name: "Photos" });
    for (const name of names) await gallery.getByRole("listitem", { name }).waitFor();
    // Two covers, loaded as images (the attachment's bytes through the API); the third card has none.
    const covers = gallery.locator("img.cover");
    assert.equal(await covers.count(), 2);
    await p.waitForFunction(() => Array.from(document.querySelectorAll("img.cover")).every((img) => img.complete && img.naturalWidth === 160));
    assert.equal(await gallery.getByRole("listitem", { name: "王五" }).locator("img").count(), 0);
    // Chosen fields: 状态 is shown on each card.
    assert.match(await gallery.getByRole("listitem", { name: "李四" }).textContent(), /请假/);
    await checkAccessibility(p, "gallery en");
    await screenshot(p, "65-gallery-en");
    // The view tools work on a gallery too: hide 状态, stored in the gallery view's own config.
    await p.getByRole("button", { name: "Hide fields" }).click();
    const tools = p.getByRole("dialog", { name: "Fields in this view" });
    await tools.getByRole("checkbox", { name: "Show 状态" }).uncheck();
    await Promise.all([p.waitForEvent("load"), tools.getByRole("button", { name: "Save" }).click()]);
    await gallery.getByRole("listitem", { name: "李四" }).waitFor();
    assert.doesNotMatch(await gallery.getByRole("listitem", { name: "李四" }).textContent(), /请假/);
    const viewId = new URL(p.url()).searchParams.get("view");
    const stored = (await server.api("GET", `${sheet.base}/views/${viewId}`)).body;
    assert.equal(stored.type, "gallery");
    assert.equal(stored.config.cover_field, photo.body.key);
    assert.ok(stored.config.fields.some((entry) => entry.field === f["状态"] && entry.hidden), JSON.stringify(stored.config));
    await p.setViewportSize({ width: 375, height: 740 });
    await screenshot(p, "65-gallery-en-phone");
  },

  async "calendar: records on their dates and ranges; drag an event to another day; click opens the record"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const f = sheet.fields;
    const start = await server.api("POST", `${sheet.base}/fields`, { name: "日期", type: "date" });
    const end = await server.api("POST", `${sheet.base}/fields`, { name: "结束日期", type: "date" });
    const d = start.body.key;
    const e = end.body.key;
    await server.api("POST", `${sheet.base}/records`, {
      records: [
        { fields: { [f["姓名"]]: "张三", [d]: "2026-11-10" } },
        { fields: { [f["姓名"]]: "李四", [d]: "2026-11-12", [e]: "2026-11-13" } },
        { fields: { [f["姓名"]]: "王五", [d]: "2026-12-20" } },
      ],
    });
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    await p.getByRole("grid", { name: "考勤记录" }).waitFor();
    await p.getByRole("button", { name: "新建视图" }).click();
    const dialog = p.getByRole("dialog", { name: "新建视图" });
    await dialog.getByRole("radio", { name: "日历" }).check();
    await dialog.getByRole("combobox", { name: "日期字段", exact: true }).waitFor();
    await dialog.getByRole("combobox", { name: "结束日期字段" }).waitFor();
    await dialog.getByRole("button", { name: "取消" }).click();
    await newView(p, { name: "考勤日历", type: "日历", settings: [["日期字段", "日期"], ["结束日期字段", "结束日期"]] });
    const viewId = new URL(p.url()).searchParams.get("view");
    await p.goto(`${server.url}${sheet.path}?view=${viewId}&date=2026-11-01`);
    await p.getByRole("heading", { name: "2026年11月" }).waitFor();
    const day = (date) => p.locator(`td[data-date="${date}"]`);
    await day("2026-11-10").getByRole("button", { name: "张三" }).waitFor();
    // A range shows on each of its days.
    await day("2026-11-12").getByRole("button", { name: "李四" }).waitFor();
    await day("2026-11-13").getByRole("button", { name: "李四" }).waitFor();
    assert.equal(await p.getByRole("button", { name: "王五" }).count(), 0, "December is not shown in November");
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "calendar zh-CN");
    await screenshot(p, "66-calendar-zh");

    // Drag 张三 from the 10th to the 17th.
    await day("2026-11-10").getByRole("button", { name: "张三" }).dragTo(day("2026-11-17"));
    await until(() => recordNamed(server, sheet, "张三"), (r) => r.fields[d] === "2026-11-17", "张三 moved to the 17th");
    await day("2026-11-17").getByRole("button", { name: "张三" }).waitFor();
    assert.equal(await day("2026-11-10").getByRole("button", { name: "张三" }).count(), 0);
    // Drag the range by its first day: both ends move.
    await day("2026-11-12").getByRole("button", { name: "李四" }).dragTo(day("2026-11-19"));
    const li = await until(() => recordNamed(server, sheet, "李四"), (r) => r.fields[d] === "2026-11-19", "李四 moved");
    assert.equal(li.fields[e], "2026-11-20");
    await day("2026-11-20").getByRole("button", { name: "李四" }).waitFor();
    // Drag the range's end edge from the 20th to the 22nd: only the end moves.
    await day("2026-11-20").locator(".event-edge").dragTo(day("2026-11-22"));
    const longer = await until(() => recordNamed(server, sheet, "李四"), (r) => r.fields[e] === "2026-11-22", "李四's end moved");
    assert.equal(longer.fields[d], "2026-11-19");
    await day("2026-11-22").getByRole("button", { name: "李四" }).waitFor();
    await screenshot(p, "67-calendar-moved-zh");

    // A click opens the record.
    await day("2026-11-17").getByRole("button", { name: "张三" }).click();
    const detail = p.getByRole("dialog", { name: "张三" });
    await detail.waitFor();
    assert.equal(await detail.getByRole("textbox", { name: "日期", exact: true }).inputValue(), "2026-11-17");
    await p.keyboard.press("Escape");
    await detail.waitFor({ state: "hidden" });
    // New record: on today, or on the first day of the period shown (November here), then named.
    await p.getByRole("button", { name: "新增记录", exact: true }).click();
    const fresh = p.getByRole("dialog", { name: "新记录" });
    await fresh.getByRole("textbox", { name: "姓名" }).fill("赵六");
    await fresh.getByRole("button", { name: "保存" }).click();
    await fresh.waitFor({ state: "hidden" });
    const today = new Date().toISOString().slice(0, 7) === "2026-11" ? null : "2026-11-01";
    if (today) await day(today).getByRole("button", { name: "赵六" }).waitFor();
    assert.ok((await recordNamed(server, sheet, "赵六")).fields[d].startsWith("2026-11-"));
    // A day's own "+": a record on that day.
    await day("2026-11-24").getByRole("button", { name: "在 2026-11-24 新增记录" }).click();
    const onDay = p.getByRole("dialog", { name: "新记录" });
    await onDay.getByRole("textbox", { name: "姓名" }).fill("钱七");
    await onDay.getByRole("button", { name: "保存" }).click();
    await onDay.waitFor({ state: "hidden" });
    await day("2026-11-24").getByRole("button", { name: "钱七" }).waitFor();
    assert.equal((await recordNamed(server, sheet, "钱七")).fields[d], "2026-11-24");
    // The week of the 17th, and the next month.
    await p.goto(`${server.url}${sheet.path}?view=${viewId}&mode=week&date=2026-11-17`);
    await day("2026-11-17").getByRole("button", { name: "张三" }).waitFor();
    assert.equal(await p.locator("td[data-date]").count(), 7);
    await checkAccessibility(p, "calendar week");
    await screenshot(p, "68-calendar-week-zh");
    await Promise.all([p.waitForEvent("load"), p.getByRole("link", { name: "月" }).click()]);
    await Promise.all([p.waitForEvent("load"), p.getByRole("link", { name: "下个月" }).click()]);
    await p.getByRole("heading", { name: "2026年12月" }).waitFor();
    await day("2026-12-20").getByRole("button", { name: "王五" }).waitFor();
  },
});
