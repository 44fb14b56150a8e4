// Browser tests of the field dialog's options (unique, default, bounds, pattern, lookup and rollup, link
// inverse, autonumber) and of the warning before a type change that clears values.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, records, tests } from "./tests.mjs";

async function fieldsOf(server, base) {
  const reply = await server.api("GET", `${base}/fields`);
  return Object.fromEntries(reply.body.items.map((f) => [f.name, f]));
}

/** Opens the add-field dialog, names the field and picks its type; returns the dialog. */
async function newField(p, name, type) {
  await p.getByRole("button", { name: "添加字段" }).first().click();
  const dialog = p.getByRole("dialog", { name: "添加字段" });
  await dialog.getByRole("textbox", { name: "字段名称" }).fill(name);
  await dialog.getByRole("combobox", { name: "字段类型" }).selectOption({ label: type });
  return dialog;
}

async function saveDialog(p, dialog) {
  await Promise.all([p.waitForEvent("load"), dialog.getByRole("button", { name: "保存" }).click()]);
}

Object.assign(tests, {
  async "field dialog: unique, default, bounds, pattern, link inverse, lookup, rollup and autonumber"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 0);
    // A second table to link to: classes with a head count.
    const classes = (await server.api("POST", `/api/v1/apps/${sheet.app.id}/tables`, {
      name: "班级",
      fields: [{ name: "班名", type: "text" }, { name: "人数", type: "number" }],
    })).body;
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);

    let dialog = await newField(p, "学号", "单行文本");
    await dialog.getByRole("checkbox", { name: "不允许两条记录的值相同" }).check();
    await dialog.getByRole("textbox", { name: "格式（正则表达式）" }).fill("^S[0-9]{3}$");
    await dialog.getByRole("spinbutton", { name: "最多字数" }).fill("4");
    await checkAccessibility(p, "field dialog text options zh-CN");
    assert.deepEqual(await englishText(p, [...LATIN, "S"]), []);
    await screenshot(p, "80-field-text-options-zh");
    await saveDialog(p, dialog);

    dialog = await newField(p, "体温", "数字");
    await dialog.getByRole("spinbutton", { name: "小数位数" }).fill("1");
    await dialog.getByRole("textbox", { name: "最小值" }).fill("35");
    await dialog.getByRole("textbox", { name: "最大值" }).fill("42");
    await dialog.getByRole("textbox", { name: "默认值" }).fill("36.5");
    await saveDialog(p, dialog);

    dialog = await newField(p, "所在班级", "关联");
    await dialog.getByRole("combobox", { name: "关联到" }).selectOption({ label: "班级" });
    assert.equal(await dialog.getByRole("checkbox", { name: "允许选择多个" }).isChecked(), true, "a link holds several by default");
    await dialog.getByRole("checkbox", { name: "允许选择多个" }).uncheck();
    await dialog.getByRole("textbox", { name: "该字段的名称" }).fill("学生");
    await screenshot(p, "81-field-link-inverse-zh");
    await saveDialog(p, dialog);

    dialog = await newField(p, "班级人数", "查找引用");
    await dialog.getByRole("combobox", { name: "通过哪个关联字段" }).selectOption({ label: "所在班级" });
    await dialog.getByRole("combobox", { name: "关联表中的字段" }).selectOption({ label: "人数 · 数字" });
    await saveDialog(p, dialog);

    dialog = await newField(p, "人数合计", "汇总");
    await dialog.getByRole("combobox", { name: "通过哪个关联字段" }).selectOption({ label: "所在班级" });
    await dialog.getByRole("combobox", { name: "关联表中的字段" }).selectOption({ label: "人数 · 数字" });
    await dialog.getByRole("combobox", { name: "计算方式" }).selectOption({ label: "求和" });
    await screenshot(p, "82-field-rollup-zh");
    await saveDialog(p, dialog);

    dialog = await newField(p, "考勤编号", "自动编号");
    await dialog.getByRole("textbox", { name: "前缀" }).fill("KQ");
    await dialog.getByRole("combobox", { name: "编号中的日期" }).selectOption("YYYYMMDD");
    await dialog.getByRole("spinbutton", { name: "序号位数" }).fill("3");
    assert.match(await dialog.locator(".autonumber-example").textContent(), /^示例：KQ\d{8}-001$/);
    await screenshot(p, "83-field-autonumber-zh");
    await saveDialog(p, dialog);

    const fields = await fieldsOf(server, sheet.base);
    assert.equal(fields["学号"].unique, true);
    assert.equal(fields["学号"].options.pattern, "^S[0-9]{3}$");
    assert.equal(fields["学号"].options.max_length, 4);
    assert.equal(Number(fields["体温"].options.min), 35);
    assert.equal(Number(fields["体温"].options.max), 42);
    assert.equal(fields["体温"].default, "36.5");
    assert.equal(fields["所在班级"].options.multiple, false);
    const inverse = await fieldsOf(server, `/api/v1/apps/${sheet.app.id}/tables/${classes.id}`);
    assert.equal(inverse["学生"]?.type, "link", "the inverse field is on the linked table");
    assert.equal(fields["班级人数"].options.link, fields["所在班级"].key);
    assert.equal(fields["班级人数"].options.field, inverse["人数"].key);
    assert.equal(fields["人数合计"].options.function, "sum");
    assert.deepEqual([fields["考勤编号"].options.prefix, fields["考勤编号"].options.date_pattern, fields["考勤编号"].options.digits], ["KQ", "YYYYMMDD", 3]);

    // The options work: a taken 学号 or a wrong pattern is refused; a new record gets the default.
    const write = (body) => server.api("POST", `${sheet.base}/records`, { fields: body });
    assert.equal((await write({ [fields["学号"].key]: "S001" })).status, 201);
    assert.equal((await write({ [fields["学号"].key]: "S001" })).status, 422, "unique");
    assert.equal((await write({ [fields["学号"].key]: "X1" })).status, 422, "pattern");
    assert.equal((await write({ [fields["体温"].key]: "50" })).status, 422, "max");
    const [first] = await records(server, sheet);
    assert.equal(first.fields[fields["体温"].key], "36.5");
    assert.match(first.fields[fields["考勤编号"].key], /^KQ\d{8}-001$/);

    // Editing shows what is stored.
    await p.locator("details.field-list summary").click();
    await p.getByRole("button", { name: "编辑字段 学号" }).click();
    dialog = p.getByRole("dialog", { name: "编辑字段" });
    assert.equal(await dialog.getByRole("textbox", { name: "格式（正则表达式）" }).inputValue(), "^S[0-9]{3}$");
    assert.equal(await dialog.getByRole("checkbox", { name: "不允许两条记录的值相同" }).isChecked(), true);
    await dialog.getByRole("button", { name: "取消" }).click();
  },

  async "changing a field's type first says how many values it clears, and asks to confirm"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 0);
    const text = (await server.api("POST", `${sheet.base}/fields`, { name: "备注", type: "text" })).body;
    await server.api("POST", `${sheet.base}/records`, {
      records: ["8", "八小时", "7.5", "半天"].map((v, i) => ({ fields: { [sheet.fields["姓名"]]: `学生${i}`, [text.key]: v } })),
    });
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    await p.locator("details.field-list summary").click();
    await p.getByRole("button", { name: "编辑字段 备注" }).click();
    const dialog = p.getByRole("dialog", { name: "编辑字段" });
    await dialog.getByRole("combobox", { name: "字段类型" }).selectOption({ label: "数字" });
    const warning = dialog.getByRole("alert").filter({ hasText: "将被清空" });
    await warning.waitFor();
    assert.equal(await warning.textContent(), "改为「数字」后，有 3 个值无法识别为「数字」，将被清空。", "八小时, 半天, and 7.5 (a number without decimals by default)");
    const save = dialog.getByRole("button", { name: "保存" });
    assert.equal(await save.isDisabled(), true, "saving waits for the confirmation");
    await checkAccessibility(p, "type change warning zh-CN");
    await screenshot(p, "84-field-type-change-zh");
    // Nothing changed by asking.
    assert.equal((await fieldsOf(server, sheet.base))["备注"].type, "text");
    await dialog.getByRole("checkbox", { name: "清空这 3 个值并更改类型" }).check();
    assert.equal(await save.isDisabled(), false);
    await Promise.all([p.waitForEvent("load"), save.click()]);
    assert.equal((await fieldsOf(server, sheet.base))["备注"].type, "number");
    const kept = (await records(server, sheet)).map((r) => r.fields[text.key]).filter((v) => v !== undefined);
    assert.deepEqual(kept, [8]);
  },

  async "field dialog: emptied options are removed from the saved field; a date's time zone; an attachment's types and size"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 0);
    for (const body of [
      { name: "学号", type: "text", options: { min_length: 2, max_length: 8, pattern: "^S" }, default: "S000" },
      { name: "体温", type: "number", options: { precision: 1, min: "35", max: "42" } },
      { name: "日期", type: "date" },
      { name: "照片", type: "attachment" },
    ]) {
      assert.equal((await server.api("POST", `${sheet.base}/fields`, body)).status, 201);
    }
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    const edit = async (name) => {
      await p.locator("details.field-list summary").click();
      await p.getByRole("button", { name: `编辑字段 ${name}` }).click();
      return p.getByRole("dialog", { name: "编辑字段" });
    };

    // Text: the pattern, the fewest characters and the default emptied; the most characters kept.
    let dialog = await edit("学号");
    assert.equal(await dialog.getByRole("textbox", { name: "格式（正则表达式）" }).inputValue(), "^S");
    await dialog.getByRole("textbox", { name: "格式（正则表达式）" }).fill("");
    await dialog.getByRole("spinbutton", { name: "最少字数" }).fill("");
    await dialog.getByRole("textbox", { name: "默认值" }).fill("");
    await saveDialog(p, dialog);
    let fields = await fieldsOf(server, sheet.base);
    assert.deepEqual(fields["学号"].options, { max_length: 8 });
    assert.equal(fields["学号"].default ?? null, null);

    // Number: both bounds emptied; the precision stays.
    dialog = await edit("体温");
    await dialog.getByRole("textbox", { name: "最小值" }).fill("");
    await dialog.getByRole("textbox", { name: "最大值" }).fill("");
    await saveDialog(p, dialog);
    fields = await fieldsOf(server, sheet.base);
    assert.deepEqual(fields["体温"].options, { precision: 1 });
    assert.equal((await server.api("POST", `${sheet.base}/records`, { fields: { [fields["体温"].key]: "50" } })).status, 201, "no bound any more");

    // Date: a time zone of its own (the browser suggests the zones it knows), then emptied again.
    dialog = await edit("日期");
    const zone = dialog.getByRole("combobox", { name: "时区" });
    assert.ok(await dialog.locator("#field-time-zones option[value='Asia/Tokyo']").count(), "the zones are suggested");
    await zone.fill("Asia/Tokyo");
    await checkAccessibility(p, "field dialog time zone zh-CN");
    assert.deepEqual(await englishText(p, LATIN), []);
    await screenshot(p, "96-field-time-zone-zh");
    await saveDialog(p, dialog);
    assert.equal((await fieldsOf(server, sheet.base))["日期"].options.time_zone, "Asia/Tokyo");
    dialog = await edit("日期");
    assert.equal(await zone.inputValue(), "Asia/Tokyo");
    await zone.fill("Mars/Base");
    await dialog.getByRole("button", { name: "保存" }).click();
    // The server's reason, translated, next to the input.
    await dialog.locator("#field-time-zone-error").waitFor();
    assert.equal(await zone.getAttribute("aria-invalid"), "true");
    await zone.fill("");
    await saveDialog(p, dialog);
    assert.equal((await fieldsOf(server, sheet.base))["日期"].options.time_zone, undefined);

    // Attachment: allowed types and the largest size, then both emptied (any type, the default 20 MB).
    dialog = await edit("照片");
    await dialog.getByRole("textbox", { name: "允许的文件类型" }).fill("image/*, application/pdf");
    await dialog.getByRole("spinbutton", { name: "单个文件上限（MB）" }).fill("5");
    await checkAccessibility(p, "field dialog attachment zh-CN");
    assert.deepEqual(await englishText(p, [...LATIN, "MB"]), []);
    await screenshot(p, "97-field-attachment-options-zh");
    await saveDialog(p, dialog);
    fields = await fieldsOf(server, sheet.base);
    assert.deepEqual(fields["照片"].options.types, ["image/*", "application/pdf"]);
    assert.equal(fields["照片"].options.max_size_mb, 5);
    dialog = await edit("照片");
    assert.equal(await dialog.getByRole("textbox", { name: "允许的文件类型" }).inputValue(), "image/*, application/pdf");
    await dialog.getByRole("textbox", { name: "允许的文件类型" }).fill("");
    await dialog.getByRole("spinbutton", { name: "单个文件上限（MB）" }).fill("");
    await saveDialog(p, dialog);
    fields = await fieldsOf(server, sheet.base);
    assert.deepEqual(fields["照片"].options.types ?? [], []);
    assert.equal(fields["照片"].options.max_size_mb, 20);

    // A new attachment field takes its limits from the dialog too.
    dialog = await newField(p, "扫描件", "附件");
    await dialog.getByRole("textbox", { name: "允许的文件类型" }).fill("application/pdf");
    await dialog.getByRole("spinbutton", { name: "单个文件上限（MB）" }).fill("2");
    await saveDialog(p, dialog);
    fields = await fieldsOf(server, sheet.base);
    assert.deepEqual(fields["扫描件"].options, { max_size_mb: 2, types: ["application/pdf"] });
  },
});
