// Browser test of link (and member) pickers in the record detail: the input named by the field searches
// the linked table's records by their primary field; links are added and removed by keyboard and saved
// with If-Match (a stale version is refused with the translated conflict, nothing lost).
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, records, tests } from "./tests.mjs";

/** Waits until the open picker of `dialog` lists exactly `names` as its matches. */
async function listed(p, names) {
  await p.waitForFunction(
    (names) => {
      const box = document.querySelector("#record-dialog .picker-options:not([hidden])");
      if (!box) return false;
      const shown = Array.from(box.querySelectorAll("[role=option] .picker-name")).map((n) => n.textContent);
      return shown.length === names.length && names.every((name) => shown.includes(name));
    },
    names,
    { timeout: 10000 },
  );
}

Object.assign(tests, {
  async "record detail: a link field is edited with the picker, links added and removed, saved with If-Match"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 1);
    const students = (await server.api("POST", `/api/v1/apps/${sheet.app.id}/tables`, { name: "学生" })).body;
    const studentBase = `/api/v1/apps/${sheet.app.id}/tables/${students.id}`;
    const name = (await server.api("POST", `${studentBase}/fields`, { name: "学生姓名", type: "text" })).body;
    await server.api("PATCH", studentBase, { primary_field: name.key });
    const created = await server.api("POST", `${studentBase}/records`, {
      records: ["张三", "李四", "王五", "张小明"].map((n) => ({ fields: { [name.key]: n } })),
    });
    const ids = Object.fromEntries(created.body.records.map((r) => [r.fields[name.key], r.id]));
    const link = (await server.api("POST", `${sheet.base}/fields`, { name: "同组学生", type: "link", options: { table: students.id } })).body;
    const [record] = await records(server, sheet);
    await server.api("PATCH", `${sheet.base}/records/${record.id}`, { fields: { [link.key]: [ids["王五"]] } });

    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    await p.getByRole("button", { name: "展开记录" }).first().click();
    const dialog = p.getByRole("dialog", { name: "学生1" });
    await dialog.waitFor();
    // The record's current link is listed under the input named by the field.
    assert.deepEqual(await dialog.locator(".picker-chosen li span").allTextContents(), ["王五"]);
    const search = dialog.getByRole("textbox", { name: "同组学生" });
    await search.focus();
    // ↓ (or a click, or typing) opens the matches.
    await p.keyboard.press("ArrowDown");
    const combo = dialog.getByRole("combobox", { name: "同组学生" });
    await listed(p, ["张三", "李四", "王五", "张小明"]);
    // Typing searches the linked table's primary field; Enter adds the first match.
    await p.keyboard.type("张");
    await listed(p, ["张三", "张小明"]);
    await p.keyboard.press("ArrowDown");
    await p.keyboard.press("Enter");
    assert.deepEqual(await dialog.locator(".picker-chosen li span").allTextContents(), ["王五", "张小明"]);
    await p.keyboard.type("李");
    await listed(p, ["李四"]);
    assert.equal(await combo.getAttribute("aria-expanded"), "true");
    await checkAccessibility(p, "record link picker zh-CN");
    assert.deepEqual(await englishText(p, LATIN), []);
    await screenshot(p, "94-record-link-picker-zh");
    // Each pick closes the matches (they never cover the form's buttons).
    await p.keyboard.press("Enter");
    assert.deepEqual(await dialog.locator(".picker-chosen li span").allTextContents(), ["王五", "张小明", "李四"]);
    assert.equal(await dialog.locator(".picker-options").isHidden(), true);
    // Esc closes the matches, not the dialog; Backspace in the empty search removes the last chosen.
    await p.keyboard.press("ArrowDown");
    await listed(p, ["张三", "李四", "王五", "张小明"]);
    await p.keyboard.press("Escape");
    assert.equal(await dialog.isVisible(), true);
    assert.equal(await dialog.locator(".picker-options").isHidden(), true);
    await p.keyboard.press("Backspace");
    assert.deepEqual(await dialog.locator(".picker-chosen li span").allTextContents(), ["王五", "张小明"]);
    // A chosen one's remove button is in the tab order.
    await dialog.getByRole("button", { name: "移除王五" }).focus();
    await p.keyboard.press("Enter");
    assert.deepEqual(await dialog.locator(".picker-chosen li span").allTextContents(), ["张小明"]);
    await dialog.getByRole("button", { name: "保存" }).click();
    await dialog.waitFor({ state: "hidden" });
    let [now] = await records(server, sheet);
    assert.deepEqual(now.fields[link.key], [{ id: ids["张小明"], name: "张小明" }]);
    assert.equal(now.version, record.version + 2);
    // The grid's cell shows it.
    await p.locator("td.cell .chip", { hasText: "张小明" }).waitFor();

    // If-Match: someone else changes the record while the detail is open; saving shows theirs and mine of
    // the field this person changed, nothing is written until she picks; 保留我的 saves hers over theirs.
    await p.getByRole("button", { name: "展开记录" }).first().click();
    await dialog.waitFor();
    await search.focus();
    await p.keyboard.type("李");
    await listed(p, ["李四"]);
    await p.keyboard.press("Enter");
    await server.api("PATCH", `${sheet.base}/records/${record.id}`, { fields: { [sheet.fields["工时"]]: "8" } });
    await dialog.getByRole("button", { name: "保存" }).click();
    const chooser = p.getByRole("dialog", { name: "有人修改了这条记录" });
    await chooser.waitFor();
    assert.equal(await chooser.locator(".conflict-field").textContent(), link.name);
    assert.equal(await chooser.locator(".conflict-theirs").textContent(), "张小明");
    assert.equal(await chooser.locator(".conflict-mine").textContent(), "张小明, 李四");
    [now] = await records(server, sheet);
    assert.deepEqual(now.fields[link.key].map((l) => l.name), ["张小明"], "the stale save wrote nothing");
    await checkAccessibility(p, "record detail conflict zh-CN");
    await screenshot(p, "95-record-link-conflict-zh");
    await chooser.getByRole("button", { name: "保留我的" }).click();
    await dialog.waitFor({ state: "hidden" });
    [now] = await records(server, sheet);
    assert.deepEqual(now.fields[link.key].map((l) => l.name), ["张小明", "李四"], "mine was saved over theirs");
    assert.equal(now.fields[sheet.fields["工时"]], "8.0", "their change to another field stays");
  },
});
