// Browser tests of the grid's per-type cell editors (member, department and link pickers, ratings,
// date-times in the organization's zone) and of live updates from other people.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, records, tests } from "./tests.mjs";

/** Adds fields to a sheet made by `attendance`; returns their keys by name. */
async function addFields(server, sheet, bodies) {
  const keys = {};
  for (const body of bodies) {
    const reply = await server.api("POST", `${sheet.base}/fields`, body);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    keys[body.name] = reply.body.key;
  }
  return keys;
}

/** The grid cell of `row` under the column headed `name`. */
async function cell(p, row, name) {
  const heads = await p.locator("thead th[data-key]").allTextContents();
  const col = heads.findIndex((text) => text.trim() === name);
  assert.ok(col >= 0, `a column named ${name}`);
  return p.locator(`td.cell[data-row="${row}"][data-col="${col}"]`);
}

async function saved(p, text) {
  await p.waitForFunction((text) => document.getElementById("save-status")?.textContent === text, text, { timeout: 10000 });
}

/** Waits until the picker lists exactly `names` (in any order) as its matches. */
async function listed(p, names) {
  await p.waitForFunction(
    (names) => {
      const box = document.querySelector(".picker:not([hidden]) [role=listbox]");
      if (!box) return false;
      const shown = Array.from(box.querySelectorAll("[role=option] .picker-name")).map((n) => n.textContent);
      return shown.length === names.length && names.every((name) => shown.includes(name));
    },
    names,
    { timeout: 10000 },
  );
}

/** Presses ArrowDown until the highlighted match is `name`. */
async function highlight(p, name) {
  for (let i = 0; i < 20; i++) {
    const current = await p.locator(".picker-options li.current .picker-name").textContent().catch(() => null);
    if (current === name) return;
    await p.keyboard.press("ArrowDown");
  }
  throw new Error(`${name} never highlighted`);
}

Object.assign(tests, {
  async "grid: member and department pickers, searched by name through an input method, keyboard only"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 1);
    const members = {};
    for (const [name, job] of [["欧阳春", "语文老师"], ["欧阳雪", "体育老师"], ["司马兰", "数学老师"]]) {
      const reply = await server.api("POST", "/api/v1/members", { name, job_title: job });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      members[name] = reply.body.id;
    }
    const departments = {};
    for (const name of ["校务办公室", "后勤保障处"]) {
      const reply = await server.api("POST", "/api/v1/departments", { name });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      departments[name] = reply.body.id;
    }
    const keys = await addFields(server, sheet, [
      { name: "班主任", type: "member" },
      { name: "部门", type: "department", options: { multiple: true } },
    ]);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    const editor = p.locator(".cell-editor");

    // Member: the first pinyin keystroke opens the picker; the composed 欧阳 searches.
    await (await cell(p, 0, "班主任")).click();
    const cdp = await p.context().newCDPSession(p);
    await cdp.send("Input.imeSetComposition", { text: "ouyang", selectionStart: 6, selectionEnd: 6 });
    await cdp.send("Input.dispatchKeyEvent", { type: "rawKeyDown", windowsVirtualKeyCode: 229, nativeVirtualKeyCode: 229, key: "Enter", code: "Enter" });
    await cdp.send("Input.dispatchKeyEvent", { type: "keyUp", windowsVirtualKeyCode: 229, key: "Enter", code: "Enter" });
    assert.ok(await editor.evaluate((e) => e.classList.contains("editing")), "the picker opened on the first keystroke");
    await cdp.send("Input.insertText", { text: "欧阳" });
    const list = p.getByRole("listbox", { name: "班主任" });
    await list.waitFor();
    await listed(p, ["欧阳春", "欧阳雪"]);
    assert.equal(await editor.getAttribute("role"), "combobox");
    assert.equal(await editor.getAttribute("aria-expanded"), "true");
    await highlight(p, "欧阳雪");
    const active = await editor.getAttribute("aria-activedescendant");
    assert.equal(await p.locator(`[id="${active}"] .picker-name`).textContent(), "欧阳雪", "the highlighted match is the active descendant");
    await list.getByRole("option", { name: /体育老师/ }).waitFor();
    await checkAccessibility(p, "member picker zh-CN");
    assert.deepEqual(await englishText(p, LATIN), []);
    await screenshot(p, "70-grid-member-picker-zh");
    await p.keyboard.press("Enter");
    await saved(p, "所有更改已保存");
    assert.equal(await editor.getAttribute("role"), null, "the picker closed");
    let [row] = await records(server, sheet);
    assert.deepEqual(row.fields[keys["班主任"]], { id: members["欧阳雪"], name: "欧阳雪" });
    assert.equal((await (await cell(p, 0, "班主任")).textContent()).trim(), "欧阳雪");

    // Esc cancels a choice; the value stays.
    await (await cell(p, 0, "班主任")).click();
    await p.keyboard.press("Enter");
    await p.locator(".picker-options [role=option]").first().waitFor();
    assert.equal(await p.locator(".picker-chosen li span").textContent(), "欧阳雪", "the cell's member is shown as chosen");
    await p.keyboard.type("司马");
    await listed(p, ["司马兰"]);
    await p.keyboard.press("Escape");
    assert.equal(await p.locator(".picker").isHidden(), true);
    [row] = await records(server, sheet);
    assert.equal(row.fields[keys["班主任"]].name, "欧阳雪", "Esc changed nothing");

    // Departments (several): Enter adds the match, Backspace in an empty search removes the last one,
    // Enter again saves.
    await (await cell(p, 0, "部门")).click();
    await p.keyboard.type("校务");
    await listed(p, ["校务办公室"]);
    await p.keyboard.press("Enter");
    await p.keyboard.type("后勤保");
    await p.keyboard.press("Enter"); // pressed before the search answered: applies to its result
    await p.locator(".picker-chosen li").nth(1).waitFor();
    assert.deepEqual(await p.locator(".picker-chosen li span").allTextContents(), ["校务办公室", "后勤保障处"]);
    await p.keyboard.press("Backspace");
    assert.deepEqual(await p.locator(".picker-chosen li span").allTextContents(), ["校务办公室"]);
    await p.keyboard.type("后勤保");
    await listed(p, ["后勤保障处"]);
    await p.keyboard.press("Enter");
    assert.equal(await p.getByRole("button", { name: "移除后勤保障处" }).count(), 1, "each chosen item has a named remove button");
    await screenshot(p, "71-grid-department-picker-zh");
    await p.keyboard.press("Enter");
    await saved(p, "所有更改已保存");
    [row] = await records(server, sheet);
    assert.deepEqual(row.fields[keys["部门"]], [
      { id: departments["校务办公室"], name: "校务办公室" },
      { id: departments["后勤保障处"], name: "后勤保障处" },
    ]);
    // Delete clears a picked cell; Ctrl+Z brings it back.
    await (await cell(p, 0, "班主任")).click();
    await p.keyboard.press("Delete");
    await saved(p, "所有更改已保存");
    [row] = await records(server, sheet);
    assert.equal(row.fields[keys["班主任"]], undefined);
    await p.keyboard.press("Control+z");
    await p.waitForFunction(() => document.querySelector(".grid-scroll td.active")?.textContent?.includes("欧阳雪"));
    await saved(p, "所有更改已保存");
    [row] = await records(server, sheet);
    assert.equal(row.fields[keys["班主任"]]?.id, members["欧阳雪"], "undo restored the member");
    // Pasting names (as a copy gives them) finds the member and the departments by name.
    await (await cell(p, 0, "班主任")).click();
    await editor.evaluate((e, text) => {
      const data = new DataTransfer();
      data.setData("text/plain", text);
      e.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, "司马兰\t后勤保障处, 校务办公室");
    const teacher = await cell(p, 0, "班主任");
    await teacher.filter({ hasText: "司马兰" }).waitFor();
    await saved(p, "所有更改已保存");
    [row] = await records(server, sheet);
    assert.deepEqual(row.fields[keys["班主任"]], { id: members["司马兰"], name: "司马兰" });
    assert.deepEqual(row.fields[keys["部门"]].map((d) => d.name), ["后勤保障处", "校务办公室"]);
    await screenshot(p, "72-grid-pickers-saved-zh");
  },

  async "grid: a link cell picks records of the linked table by name; a rating by stars"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 1);
    const students = (await server.api("POST", `/api/v1/apps/${sheet.app.id}/tables`, { name: "学生" })).body;
    const studentBase = `/api/v1/apps/${sheet.app.id}/tables/${students.id}`;
    const name = (await server.api("POST", `${studentBase}/fields`, { name: "学生姓名", type: "text" })).body;
    await server.api("PATCH", studentBase, { primary_field: name.key });
    const created = await server.api("POST", `${studentBase}/records`, {
      records: ["张三", "李四", "王五"].map((n) => ({ fields: { [name.key]: n } })),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const ids = Object.fromEntries(created.body.records.map((r) => [r.fields[name.key], r.id]));
    const keys = await addFields(server, sheet, [
      { name: "学生", type: "link", options: { table: students.id } },
      { name: "评分", type: "rating", options: { max: 5 } },
    ]);
    const p = await page(ctx);
    await logIn(p, server, sheet.path);
    // Link: Enter opens every record; typing searches the linked table's primary field.
    await (await cell(p, 0, "学生")).click();
    await p.keyboard.press("Enter");
    await listed(p, ["张三", "李四", "王五"]);
    await p.keyboard.type("李");
    await listed(p, ["李四"]);
    await p.keyboard.press("Enter");
    await p.keyboard.type("王");
    await listed(p, ["王五"]);
    await p.keyboard.press("Enter");
    await checkAccessibility(p, "link picker en");
    await screenshot(p, "73-grid-link-picker-en");
    await p.keyboard.press("Tab"); // Tab saves and moves to the next column
    await saved(p, "All changes saved");
    let [row] = await records(server, sheet);
    assert.deepEqual(row.fields[keys["学生"]], [{ id: ids["李四"], name: "李四" }, { id: ids["王五"], name: "王五" }]);
    // The cell shows the linked records' names.
    assert.deepEqual(await (await cell(p, 0, "学生")).locator(".chip").allTextContents(), ["李四", "王五"]);

    // Rating: Tab moved onto it; typing the digit sets it.
    const rating = await cell(p, 0, "评分");
    assert.ok(await rating.evaluate((td) => td.classList.contains("active")));
    await p.keyboard.type("4");
    await p.keyboard.press("Enter");
    await saved(p, "All changes saved");
    [row] = await records(server, sheet);
    assert.equal(row.fields[keys["评分"]], 4);
    assert.equal(await rating.locator(".stars").textContent(), "★★★★☆");
    assert.equal(await rating.locator(".visually-hidden").textContent(), "4 of 5 stars");
    // Enter lists the stars with the cell's own highlighted; ArrowUp and Enter take 3.
    await rating.click();
    await p.keyboard.press("Enter");
    const stars = p.getByRole("listbox", { name: "评分" });
    await stars.waitFor();
    assert.equal(await stars.getByRole("option", { name: "4 of 5 stars" }).getAttribute("aria-selected"), "true");
    await checkAccessibility(p, "rating options en");
    await screenshot(p, "74-grid-rating-en");
    await p.keyboard.press("ArrowUp");
    await p.keyboard.press("Enter");
    await saved(p, "All changes saved");
    [row] = await records(server, sheet);
    assert.equal(row.fields[keys["评分"]], 3);
  },

  async "grid: a date-time shows and is typed in the organization's time zone, not the browser's"(ctx) {
    const server = ctx.server;
    const org = await server.api("GET", "/api/v1/organization");
    const zone = org.body.time_zone;
    assert.equal((await server.api("PATCH", "/api/v1/organization", { time_zone: "Asia/Shanghai" })).status, 200);
    try {
      const sheet = await attendance(server, 1);
      const keys = await addFields(server, sheet, [{ name: "签到时间", type: "datetime" }]);
      const [record] = await records(server, sheet);
      await server.api("PATCH", `${sheet.base}/records/${record.id}`, { fields: { [keys["签到时间"]]: "2026-12-04T00:30:00Z" } });
      // The browser lives in New York; the school in Shanghai.
      const p = await page(ctx, { locale: "zh-CN", timezoneId: "America/New_York" });
      await logIn(p, server, sheet.path);
      const at = await cell(p, 0, "签到时间");
      await p.waitForFunction(() => document.querySelector('td.cell[data-row="0"]') !== null);
      assert.equal((await at.textContent()).trim(), "2026-12-04 08:30");
      // Enter opens the browser's date-and-time picker on the Shanghai time.
      await at.click();
      await p.keyboard.press("Enter");
      const editor = p.locator(".cell-editor");
      assert.equal(await editor.getAttribute("type"), "datetime-local");
      assert.equal(await editor.inputValue(), "2026-12-04T08:30");
      await editor.fill("2026-12-05T09:15");
      await screenshot(p, "75-grid-datetime-zh");
      await p.keyboard.press("Enter");
      await saved(p, "所有更改已保存");
      let [row] = await records(server, sheet);
      assert.equal(row.fields[keys["签到时间"]], "2026-12-05T01:15:00Z");
      assert.equal((await at.textContent()).trim(), "2026-12-05 09:15");
      // Typing keeps a text editor; the typed time is Shanghai's too. Copy gives it back as shown.
      await at.click();
      await p.keyboard.type("2026-12-06 07:00");
      assert.equal(await editor.getAttribute("type"), "text");
      await p.keyboard.press("Enter");
      await saved(p, "所有更改已保存");
      [row] = await records(server, sheet);
      assert.equal(row.fields[keys["签到时间"]], "2026-12-05T23:00:00Z");
      await at.click();
      const copied = await editor.evaluate((e) => {
        const data = new DataTransfer();
        e.dispatchEvent(new ClipboardEvent("copy", { clipboardData: data, bubbles: true, cancelable: true }));
        return data.getData("text/plain");
      });
      assert.equal(copied, "2026-12-06 07:00");
    } finally {
      await server.api("PATCH", "/api/v1/organization", { time_zone: zone });
    }
  },

  async "grid: another person's change, new record and deletion appear within 2 s without a reload"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 2);
    const [first, second] = await records(server, sheet);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    const grid = p.locator('table[role="grid"]');
    await p.locator('td.cell[data-row="1"][data-col="0"]').waitFor();
    // Give the event stream a moment to connect before the others act.
    await p.waitForTimeout(500);
    const timed = async (change, condition, arg) => {
      const started = Date.now();
      await change();
      await p.waitForFunction(condition, arg, { timeout: 2000 });
      return Date.now() - started;
    };
    const nameKey = sheet.fields["姓名"];
    const updated = await timed(
      () => server.api("PATCH", `${sheet.base}/records/${first.id}`, { fields: { [nameKey]: "赵老师改的" } }),
      () => document.querySelector('td.cell[data-row="0"][data-col="0"]')?.textContent === "赵老师改的",
    );
    // The changed cell is marked for a moment (drawn in the same render as its new value); the others not.
    assert.equal(await p.locator('td.cell[data-row="0"][data-col="0"]').evaluate((td) => td.classList.contains("live-changed")), true);
    assert.equal(await p.locator('td.cell[data-row="0"][data-col="1"]').evaluate((td) => td.classList.contains("live-changed")), false);
    const added = await timed(
      () => server.api("POST", `${sheet.base}/records`, { records: [{ fields: { [nameKey]: "新同学" } }] }),
      () => document.querySelector('table[role="grid"]')?.getAttribute("aria-rowcount") === "4",
    );
    assert.equal(await p.locator('td.cell[data-row="2"][data-col="0"]').textContent(), "新同学");
    await screenshot(p, "76-grid-live-zh");
    const removed = await timed(
      () => server.api("DELETE", `${sheet.base}/records/${second.id}`),
      () => document.querySelector('table[role="grid"]')?.getAttribute("aria-rowcount") === "3",
    );
    assert.equal(await grid.locator('td.cell[data-row="1"][data-col="0"]').textContent(), "新同学");
    console.log(`     live: update ${updated} ms, new record ${added} ms, deletion ${removed} ms`);
    // Someone adds a field: the page says so (a status, announced) and reloads when asked, with the column.
    const reply = await server.api("POST", `${sheet.base}/fields`, { name: "备注", type: "text" });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    const notice = p.getByRole("status").filter({ hasText: "有人修改了这张表的字段或视图" });
    await notice.waitFor();
    await checkAccessibility(p, "grid schema notice zh-CN");
    await screenshot(p, "77-grid-schema-changed-zh");
    await notice.getByRole("button", { name: "重新加载" }).click();
    await p.getByRole("columnheader", { name: "备注" }).waitFor();
  },

  async "in English: a record detail's conflict offers theirs and mine; another person's new field is announced"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 1);
    const [record] = await records(server, sheet);
    const nameKey = sheet.fields["姓名"];
    const p = await page(ctx, { locale: "en" });
    await logIn(p, server, sheet.path);
    assert.equal(await p.getAttribute("html", "lang"), "en");
    await p.locator('td.cell[data-row="0"][data-col="0"]').waitFor();
    // Give the event stream a moment to connect before the others act.
    await p.waitForTimeout(500);
    await p.getByRole("button", { name: "Expand record" }).first().click();
    const detail = p.getByRole("dialog").filter({ has: p.getByRole("textbox", { name: "姓名" }) });
    await detail.waitFor();
    await detail.getByRole("textbox", { name: "姓名" }).fill("Mine");
    const theirs = await server.api("PATCH", `${sheet.base}/records/${record.id}`, { fields: { [nameKey]: "Theirs" } });
    assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
    await detail.getByRole("button", { name: "Save" }).click();
    const chooser = p.getByRole("dialog", { name: "Someone changed this record" });
    await chooser.waitFor();
    assert.equal(await chooser.locator(".conflict-field").textContent(), "姓名");
    assert.equal(await chooser.locator(".conflict-theirs").textContent(), "Theirs");
    assert.equal(await chooser.locator(".conflict-mine").textContent(), "Mine");
    await checkAccessibility(p, "record detail conflict en");
    await screenshot(p, "95-record-conflict-en");
    await chooser.getByRole("button", { name: "Keep theirs" }).click();
    await chooser.waitFor({ state: "hidden" });
    const [now] = await records(server, sheet);
    assert.equal(now.fields[nameKey], "Theirs", "keeping theirs writes nothing of mine");
    // The detail is drawn again on the chooser's close event, a task the browser may run after the chooser is
    // hidden: wait (bounded) for the redraw, then assert what it shows.
    const nameBox = detail.getByRole("textbox", { name: "姓名" });
    await p
      .waitForFunction((key) => document.querySelector(`dialog[open] .record-fields [data-key="${key}"]`)?.value === "Theirs", nameKey, { timeout: 3000 })
      .catch(() => {});
    assert.equal(await nameBox.inputValue(), "Theirs", "the detail shows theirs");
    await p.keyboard.press("Escape");
    await detail.waitFor({ state: "hidden" });
    // Someone adds a field: announced in English, with a Reload button that shows the column.
    const reply = await server.api("POST", `${sheet.base}/fields`, { name: "Note", type: "text" });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    const notice = p.getByRole("status").filter({ hasText: "Someone changed this table's fields or views" });
    await notice.waitFor();
    await checkAccessibility(p, "grid schema notice en");
    await screenshot(p, "77-grid-schema-changed-en");
    await notice.getByRole("button", { name: "Reload" }).click();
    await p.getByRole("columnheader", { name: "Note" }).waitFor();
  },
});
