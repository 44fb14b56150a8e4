// Browser tests of issue #23's leftovers: a board view's settings changed after creation (视图设置|View
// settings: Group by, Date field, Cover field, fields on cards), a refused choice named in place, a view
// broken by a deleted field mended there; a calendar event moved without a mouse (Move to date…, Alt+arrows),
// a refused move put back, all-day dates and date-times across Berlin's daylight-saving change; the form
// designer's phone preview.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, tests } from "./tests.mjs";

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

async function field(server, sheet, body) {
  const reply = await server.api("POST", `${sheet.base}/fields`, body);
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body.key;
}

async function view(server, sheet, id) {
  return (await server.api("GET", `${sheet.base}/views/${id}`)).body;
}

Object.assign(tests, {
  async "view settings: change a kanban's Group by, cover and card fields; a refused choice is named; a broken view is mended"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const f = sheet.fields;
    const shift = await field(server, sheet, { name: "班次", type: "single_select", options: { choices: [{ name: "早班", color: "blue" }, { name: "晚班", color: "purple" }] } });
    const team = await field(server, sheet, { name: "部门", type: "single_select", options: { choices: [{ name: "一部", color: "green" }] } });
    const photo = await field(server, sheet, { name: "照片", type: "attachment", options: { types: ["image/*"] } });
    const made = await server.api("POST", `${sheet.base}/records`, {
      records: [
        { fields: { [f["姓名"]]: "张三", [f["状态"]]: "出勤", [shift]: "早班", [f["工时"]]: "8" } },
        { fields: { [f["姓名"]]: "李四", [f["状态"]]: "请假", [shift]: "晚班", [f["工时"]]: "4" } },
      ],
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const board = await server.api("POST", `${sheet.base}/views`, { name: "考勤看板", type: "kanban", config: { group_field: f["状态"] } });
    assert.equal(board.status, 201, JSON.stringify(board.body));
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, `${sheet.path}?view=${board.body.id}`);
    await p.getByRole("list", { name: "出勤" }).getByRole("listitem", { name: "张三" }).waitFor();
    // Cards show the first fields by default: 工时 is on 张三's card.
    assert.match(await p.getByRole("listitem", { name: "张三" }).textContent(), /工时/);

    // 视图设置: the dialog shows the stored choices.
    await p.getByRole("button", { name: "视图设置" }).click();
    const dialog = p.getByRole("dialog", { name: "视图设置" });
    const group = dialog.getByRole("combobox", { name: "分组字段" });
    assert.equal(await group.inputValue(), f["状态"]);
    assert.deepEqual(await group.locator("option").allTextContents(), ["状态", "班次", "部门"]);
    assert.equal(await dialog.getByRole("combobox", { name: "封面字段" }).inputValue(), "");
    const cards = dialog.getByRole("group", { name: "卡片上的字段" });
    assert.equal(await cards.getByRole("checkbox", { name: "工时" }).isChecked(), true);
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "view settings dialog, kanban");
    await screenshot(p, "h4-01-view-settings-zh");
    // By keyboard: Group by 班次, cover 照片, 工时 off the cards.
    await group.focus();
    await group.selectOption({ label: "班次" });
    await dialog.getByRole("combobox", { name: "封面字段" }).selectOption({ label: "照片" });
    await cards.getByRole("checkbox", { name: "工时" }).focus();
    await p.keyboard.press("Space");
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    await p.getByRole("list", { name: "早班" }).getByRole("listitem", { name: "张三" }).waitFor();
    await p.getByRole("list", { name: "晚班" }).getByRole("listitem", { name: "李四" }).waitFor();
    assert.doesNotMatch(await p.getByRole("listitem", { name: "张三" }).textContent(), /工时/);
    let stored = await view(server, sheet, board.body.id);
    assert.equal(stored.config.group_field, shift);
    assert.equal(stored.config.card_cover, photo);
    assert.ok(stored.config.fields.some((entry) => entry.field === f["工时"] && entry.hidden), JSON.stringify(stored.config));
    await screenshot(p, "h4-02-kanban-regrouped-zh");

    // A choice gone by the time it is saved: the API's 422 is shown at Group by, the dialog stays open.
    await p.getByRole("button", { name: "视图设置" }).click();
    await group.selectOption({ label: "部门" });
    const gone = await server.api("DELETE", `${sheet.base}/fields/${team}`);
    assert.ok(gone.status < 300, JSON.stringify(gone.body));
    await dialog.getByRole("button", { name: "保存" }).click();
    await p.waitForFunction(() => document.getElementById("settings-group")?.getAttribute("aria-invalid") === "true");
    const note = await p.locator("#settings-group-error").textContent();
    assert.ok(note && note.length > 0, "a reason next to Group by");
    assert.ok(await dialog.isVisible(), "the dialog stays open");
    assert.equal((await view(server, sheet, board.body.id)).config.group_field, shift, "nothing was saved");
    await checkAccessibility(p, "view settings refused");
    await screenshot(p, "h4-03-view-settings-refused-zh");
    await dialog.getByRole("button", { name: "取消" }).click();

    // The group field deleted: the board says so and offers the settings instead of a new view.
    const deleted = await server.api("DELETE", `${sheet.base}/fields/${shift}`);
    assert.ok(deleted.status < 300, JSON.stringify(deleted.body));
    await p.reload();
    await p.getByText("请在视图设置中重新选择").waitFor();
    assert.equal(await p.getByText("新建一个看板视图").count(), 0);
    await checkAccessibility(p, "broken kanban");
    await screenshot(p, "h4-04-kanban-broken-zh");
    await p.locator(".board-body").getByRole("button", { name: "视图设置" }).click();
    assert.equal(await group.inputValue(), "", "the deleted field is not offered");
    assert.deepEqual(await group.locator("option").allTextContents(), ["请选择…", "状态"]);
    await group.selectOption({ label: "状态" });
    await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
    await p.getByRole("list", { name: "请假" }).getByRole("listitem", { name: "李四" }).waitFor();
    stored = await view(server, sheet, board.body.id);
    assert.equal(stored.config.group_field, f["状态"]);
    assert.ok(!JSON.stringify(stored.config).includes(shift), "no setting names the deleted field");
    await screenshot(p, "h4-05-kanban-mended-zh");
  },

  async "calendar by keyboard: Move to date…, Alt+arrows, a refused move goes back; Berlin's daylight-saving change shifts nothing (English)"(ctx) {
    const server = ctx.server;
    const before = (await server.api("GET", "/api/v1/organization")).body.time_zone;
    const set = await server.api("PATCH", "/api/v1/organization", { time_zone: "Europe/Berlin" });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    try {
      const sheet = await attendance(server);
      const f = sheet.fields;
      const day = await field(server, sheet, { name: "日期", type: "date" });
      const at = await field(server, sheet, { name: "时间", type: "datetime" });
      // Europe/Berlin moves to summer time on Sunday 2026-03-29. 09:00 CET on the 28th is 08:00Z.
      await server.api("POST", `${sheet.base}/records`, {
        records: [
          { fields: { [f["姓名"]]: "张三", [day]: "2026-03-28", [at]: "2026-03-27T08:00:00Z" } },
          { fields: { [f["姓名"]]: "李四", [day]: "2026-03-10", [at]: "2026-03-28T08:00:00Z" } },
        ],
      });
      const made = await server.api("POST", `${sheet.base}/views`, { name: "Rota", type: "calendar", config: { date_field: day } });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      // The browser sits in another zone: the organization's is what counts.
      const p = await page(ctx, { timezoneId: "Asia/Shanghai" });
      await logIn(p, server, `${sheet.path}?view=${made.body.id}&date=2026-03-01`);
      const cell = (date) => p.locator(`td[data-date="${date}"]`);
      await cell("2026-03-28").getByRole("button", { name: "张三", exact: true }).waitFor();

      // Move to date…: a dialog with a date input; Enter moves.
      await cell("2026-03-28").getByRole("listitem", { name: "张三" }).getByRole("button", { name: "Move to date…" }).focus();
      await p.keyboard.press("Enter");
      const dialog = p.getByRole("dialog", { name: "Move “张三” to which day?" });
      await dialog.waitFor();
      const input = dialog.getByRole("textbox", { name: "New date" });
      assert.equal(await input.inputValue(), "2026-03-28");
      await checkAccessibility(p, "move to date dialog");
      await screenshot(p, "h4-06-move-to-date-en");
      await input.fill("2026-03-30");
      await input.press("Enter");
      await cell("2026-03-30").getByRole("button", { name: "张三", exact: true }).waitFor();
      await until(() => recordNamed(server, sheet, "张三"), (r) => r.fields[day] === "2026-03-30", "张三 on the 30th");
      await p.getByRole("status").filter({ hasText: "Moved “张三” to 2026-03-30." }).waitFor();
      await p.waitForFunction(() => document.activeElement?.matches("button.event") && document.activeElement.textContent === "张三");

      // Alt+← on the focused event: a day back, over the change to summer time; the date stays a date.
      await p.keyboard.press("Alt+ArrowLeft");
      await until(() => recordNamed(server, sheet, "张三"), (r) => r.fields[day] === "2026-03-29", "张三 on the 29th");
      await cell("2026-03-29").getByRole("button", { name: "张三", exact: true }).waitFor();
      await p.getByRole("status").filter({ hasText: "Moved “张三” to 2026-03-29." }).waitFor();
      await p.waitForTimeout(400);
      await screenshot(p, "h4-07-calendar-moved-en");

      // Someone else changes 张三 meanwhile: the keyboard move is refused (409), goes back and says why.
      const zhang = await recordNamed(server, sheet, "张三");
      await server.api("PATCH", `${sheet.base}/records/${zhang.id}`, { fields: { [f["工时"]]: "6" } });
      await p.waitForTimeout(600);
      const event = cell("2026-03-29").getByRole("button", { name: "张三", exact: true });
      await event.evaluate((node, version) => (node.dataset.version = version), String(zhang.version));
      await event.focus();
      await p.keyboard.press("Alt+ArrowDown");
      await p.getByRole("status").filter({ hasText: "Someone else changed “张三”" }).waitFor();
      await cell("2026-03-29").getByRole("button", { name: "张三", exact: true }).waitFor();
      assert.equal((await recordNamed(server, sheet, "张三")).fields[day], "2026-03-29", "the refused move wrote nothing");
      await screenshot(p, "h4-08-calendar-refused-en");

      // View settings: the calendar now dated by 时间 (a date-time), through the dialog.
      await p.getByRole("button", { name: "View settings" }).click();
      const settings = p.getByRole("dialog", { name: "View settings" });
      await settings.getByRole("combobox", { name: "Date field", exact: true }).selectOption({ label: "时间" });
      assert.equal(await settings.getByRole("combobox", { name: "End date field" }).inputValue(), "");
      await checkAccessibility(p, "view settings dialog, calendar");
      await screenshot(p, "h4-09-calendar-settings-en");
      await Promise.all([p.waitForEvent("load"), settings.getByRole("button", { name: "Save" }).click()]);
      assert.equal((await view(server, sheet, made.body.id)).config.date_field, at);
      // 09:00 in Berlin on the 28th; a day later is 09:00 summer time, 07:00Z (not 24 hours later).
      const li = cell("2026-03-28").getByRole("button", { name: "李四", exact: true });
      await li.focus();
      await p.keyboard.press("Alt+ArrowRight");
      const moved = await until(() => recordNamed(server, sheet, "李四"), (r) => r.fields[at] !== "2026-03-28T08:00:00Z", "李四 moved");
      assert.equal(moved.fields[at], "2026-03-29T07:00:00Z");
      await cell("2026-03-29").getByRole("button", { name: "李四", exact: true }).waitFor();
      // And back over the change: 08:00Z again.
      await cell("2026-03-29").getByRole("button", { name: "李四", exact: true }).focus();
      await p.keyboard.press("Alt+ArrowLeft");
      await until(() => recordNamed(server, sheet, "李四"), (r) => r.fields[at] === "2026-03-28T08:00:00Z", "李四 back");
      await checkAccessibility(p, "calendar by keyboard");
      await screenshot(p, "h4-10-calendar-datetime-en");
    } finally {
      await server.api("PATCH", "/api/v1/organization", { time_zone: before });
    }
  },

  async "form designer: preview as a phone shows the public page in a 375 px frame"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server);
    const f = sheet.fields;
    const made = await server.api("POST", `${sheet.base}/views`, {
      name: "报名表",
      type: "form",
      config: { title: "活动报名", fields: [{ field: f["姓名"], required: true, help: "请写全名" }, { field: f["状态"] }] },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, `${sheet.path}?view=${made.body.id}`);
    const toggle = p.getByRole("button", { name: "手机预览" });
    assert.equal(await toggle.getAttribute("aria-pressed"), "false");
    await toggle.focus();
    await p.keyboard.press("Enter");
    assert.equal(await toggle.getAttribute("aria-pressed"), "true");
    const frame = p.locator("iframe.designer-phone");
    await frame.waitFor();
    assert.equal(await frame.evaluate((node) => node.clientWidth), 375);
    const inside = p.frameLocator("iframe.designer-phone");
    await inside.getByRole("heading", { name: "活动报名" }).waitFor();
    const name = inside.getByRole("textbox", { name: "姓名" });
    await name.waitFor();
    assert.equal(await name.getAttribute("aria-required"), "true");
    await inside.getByText("这是预览：提交不会保存任何内容。").waitFor();
    assert.equal(await inside.getByRole("button", { name: "提交" }).isDisabled(), true);
    // The page inside lays out at the phone's width.
    assert.equal(await inside.locator("body").evaluate(() => window.innerWidth), 375);
    assert.deepEqual(await englishText(p, LATIN), []);
    await checkAccessibility(p, "designer with phone preview");
    await screenshot(p, "h4-11-designer-phone-preview-zh");
    // The preview follows the draft before any save: a new title, a field moved up.
    await p.getByRole("textbox", { name: "标题" }).fill("活动报名（草稿）");
    await inside.getByRole("heading", { name: "活动报名（草稿）" }).waitFor();
    const rows = p.locator("ol.designer-fields > li");
    await rows.nth(1).getByRole("button", { name: "上移" }).click();
    await until(
      () => inside.locator("main form").first().innerText(),
      (text) => text.includes("状态") && text.indexOf("状态") < text.indexOf("姓名"),
      "the moved field first in the preview",
    );
    await screenshot(p, "h4-11b-designer-phone-preview-draft-zh");
    const stored = await server.api("GET", `${sheet.base}/views/${made.body.id}`);
    assert.equal(stored.body.config.title, "活动报名", "the draft is not stored");
    // A save reloads the page; the preview stays on and shows the saved form.
    await p.getByRole("textbox", { name: "标题" }).fill("活动报名（新）");
    await Promise.all([p.waitForEvent("load"), p.getByRole("button", { name: "保存", exact: true }).click()]);
    await p.frameLocator("iframe.designer-phone").getByRole("heading", { name: "活动报名（新）" }).waitFor();
    await screenshot(p, "h4-12-designer-phone-preview-saved-zh");
    await p.getByRole("button", { name: "手机预览" }).click();
    await p.locator("iframe.designer-phone").waitFor({ state: "hidden" });
    // Nobody else frames it: the preview page may only be framed by this site.
    const direct = await p.request.get(`${server.url}/apps/${sheet.app.id}/tables/${sheet.table.id}/views/${made.body.id}/preview`);
    assert.match(direct.headers()["content-security-policy"], /frame-ancestors 'self'/);
    assert.equal(direct.headers()["x-frame-options"], "SAMEORIGIN");
    const table = await p.request.get(`${server.url}${sheet.path}`);
    assert.match(table.headers()["content-security-policy"], /frame-ancestors 'none'/);
  },
});
