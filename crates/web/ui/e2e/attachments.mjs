// Browser tests of attachment cells (thumbnails, the file dialog: pick, drop — on the dialog or the cell —, preview, download, remove,
// the field's limits refused with the server's reason) and of link pickers in the record detail.
import assert from "node:assert/strict";
import { checkAccessibility, englishText, screenshot } from "./harness.mjs";
import { LATIN, attendance, logIn, page, records, tests } from "./tests.mjs";

async function addFields(server, sheet, bodies) {
  const keys = {};
  for (const body of bodies) {
    const reply = await server.api("POST", `${sheet.base}/fields`, body);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    keys[body.name] = reply.body.key;
  }
  return keys;
}

async function cell(p, row, name) {
  const heads = await p.locator("thead th[data-key]").allTextContents();
  const col = heads.findIndex((text) => text.trim() === name);
  assert.ok(col >= 0, `a column named ${name}`);
  return p.locator(`td.cell[data-row="${row}"][data-col="${col}"]`);
}

/** A real PNG drawn by the page's canvas (so the thumbnail and the preview show something). */
async function png(p, label, color) {
  const data = await p.evaluate(([label, color]) => {
    const canvas = document.createElement("canvas");
    canvas.width = 240;
    canvas.height = 160;
    const g = canvas.getContext("2d");
    g.fillStyle = color;
    g.fillRect(0, 0, 240, 160);
    g.fillStyle = "#fff";
    g.font = "bold 40px sans-serif";
    g.fillText(label, 24, 96);
    return canvas.toDataURL("image/png").split(",")[1];
  }, [label, color]);
  return Buffer.from(data, "base64");
}

/** Drops files on the dialog's drop zone, as a person dragging them from the desktop. */
async function drop(p, dialog, files) {
  await dropOn(p, dialog.locator(".drop-zone"), files);
}

/** Drops files on an element (a dialog's drop zone, a grid cell). */
async function dropOn(p, zone, files) {
  const transfer = await p.evaluateHandle((files) => {
    const data = new DataTransfer();
    for (const file of files) data.items.add(new File([new Uint8Array(file.bytes)], file.name, { type: file.type }));
    return data;
  }, files.map((f) => ({ name: f.name, type: f.type, bytes: [...f.buffer] })));
  await zone.dispatchEvent("dragover", { dataTransfer: transfer });
  await zone.dispatchEvent("drop", { dataTransfer: transfer });
}

Object.assign(tests, {
  async "attachments: a cell's files are picked, dropped, previewed, downloaded and removed; limits refused with the server's reason"(ctx) {
    const server = ctx.server;
    const sheet = await attendance(server, 1);
    const keys = await addFields(server, sheet, [
      { name: "照片", type: "attachment", options: { types: ["image/*"], max_size_mb: 1 } },
      { name: "材料", type: "attachment" },
    ]);
    const p = await page(ctx, { locale: "zh-CN" });
    await logIn(p, server, sheet.path);
    const photo = await cell(p, 0, "照片");
    await photo.click();
    // Keyboard only: Enter opens the cell's files; the focus is on 上传文件.
    await p.keyboard.press("Enter");
    let dialog = p.getByRole("dialog", { name: "照片 · 第 1 行" });
    await dialog.waitFor();
    const upload = dialog.getByRole("button", { name: "上传文件" });
    assert.equal(await upload.evaluate((b) => b === document.activeElement), true, "the upload button has the focus");
    assert.equal(await dialog.locator(".hint").first().textContent(), "允许的类型： image/* · 每个文件最大 1 MB");
    // Enter on 上传文件 clicks the hidden file input (the browser's file chooser). The chooser itself is
    // not awaited: headless Chromium does not always report it on a loaded machine, so the click is
    // observed and the file is then given to the input as the chooser would.
    const picker = dialog.locator("input[type=file]");
    await picker.evaluate((input) => input.addEventListener("click", (event) => {
      event.preventDefault();
      input.dataset.clicked = "yes";
    }, { once: true }));
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => document.querySelector("dialog[open] input[type=file]")?.dataset.clicked === "yes");
    await picker.setInputFiles([{ name: "校园.png", mimeType: "image/png", buffer: await png(p, "校园", "#1f5fbf") }]);
    await dialog.getByRole("button", { name: "预览 校园.png" }).waitFor();
    await p.waitForFunction(() => document.querySelector(".attachment-status")?.textContent === "所有更改已保存");
    let [row] = await records(server, sheet);
    assert.equal(row.fields[keys["照片"]].length, 1);
    assert.equal(row.fields[keys["照片"]][0].name, "校园.png");
    assert.equal(row.fields[keys["照片"]][0].type, "image/png");

    // Dropped: a PDF is not an image, and a 1.5 MB "image" is over the field's 1 MB. Both are uploaded,
    // then refused by the records API; the dialog names each file with the server's reason, in Chinese.
    await drop(p, dialog, [
      { name: "说明.pdf", type: "application/pdf", buffer: Buffer.from("%PDF-1.4\n% tenon\n") },
      { name: "大图.png", type: "image/png", buffer: Buffer.alloc(1536 * 1024, 7) },
    ]);
    const alert = dialog.getByRole("alert");
    await alert.filter({ hasText: "大图.png" }).waitFor();
    const reason = await alert.textContent();
    assert.match(reason, /说明\.pdf：应为以下之一：image\/\*/, reason);
    assert.match(reason, /大图\.png：不能大于 1 MB/, reason);
    [row] = await records(server, sheet);
    assert.deepEqual(row.fields[keys["照片"]].map((f) => f.name), ["校园.png"], "nothing refused was kept");
    // File names and the field's MIME types are the person's data inside the catalog's sentences.
    assert.deepEqual(await englishText(p, [...LATIN, "MB", "png", "pdf", "image"]), []);
    await checkAccessibility(p, "attachment dialog zh-CN");
    await screenshot(p, "90-attachment-dialog-refused-zh");

    // Preview: the image in a second dialog, with a download link; Esc closes only the preview.
    await dialog.getByRole("button", { name: "预览 校园.png" }).click();
    const preview = p.getByRole("dialog", { name: "校园.png" });
    await preview.getByRole("img", { name: "校园.png" }).waitFor();
    await p.waitForFunction(() => document.querySelector(".preview-image")?.naturalWidth === 240);
    const link = preview.getByRole("link", { name: "下载 校园.png" });
    assert.match(await link.getAttribute("href"), /^\/api\/v1\/attachments\//);
    await checkAccessibility(p, "attachment preview zh-CN");
    await screenshot(p, "91-attachment-preview-zh");
    await p.keyboard.press("Escape");
    await preview.waitFor({ state: "hidden" });
    assert.equal(await dialog.isVisible(), true, "the file dialog stays open");
    await p.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });

    // The cell shows the thumbnail; the grid has the focus back.
    const thumb = photo.locator("img.thumb");
    await thumb.waitFor();
    assert.equal(await thumb.getAttribute("alt"), "校园.png");
    await p.waitForFunction(() => document.querySelector("td.cell img.thumb")?.naturalWidth === 240);
    assert.equal(await p.evaluate(() => document.activeElement?.classList.contains("cell-editor")), true);

    // Another file type, dropped straight onto the 材料 cell (any type): the cell is chosen, its dialog
    // opens with the file uploaded and added, listed with a download link, shown by name in the cell.
    await dropOn(p, await cell(p, 0, "材料"), [{ name: "说明.pdf", type: "application/pdf", buffer: Buffer.from("%PDF-1.4\n% tenon\n") }]);
    dialog = p.getByRole("dialog", { name: "材料 · 第 1 行" });
    await dialog.waitFor();
    const download = dialog.getByRole("link", { name: "下载 说明.pdf" });
    await download.waitFor();
    assert.equal(await download.getAttribute("download"), "说明.pdf");
    const fetched = await p.evaluate(async (href) => {
      const response = await fetch(href);
      return { type: response.headers.get("content-type"), nosniff: response.headers.get("x-content-type-options"), text: await response.text() };
    }, await download.getAttribute("href"));
    assert.deepEqual(fetched, { type: "application/pdf", nosniff: "nosniff", text: "%PDF-1.4\n% tenon\n" });
    await p.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await (await cell(p, 0, "材料")).locator(".file-chip").textContent(), "说明.pdf");
    await screenshot(p, "92-attachment-cells-zh");

    // Remove, by keyboard: back to 照片, open, Tab to 移除 校园.png, Enter.
    await p.keyboard.press("ArrowLeft");
    await p.keyboard.press("Enter");
    dialog = p.getByRole("dialog", { name: "照片 · 第 1 行" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "移除 校园.png" }).focus();
    await p.keyboard.press("Enter");
    await dialog.getByText("还没有文件。").waitFor();
    [row] = await records(server, sheet);
    assert.equal(row.fields[keys["照片"]], undefined, "the cell is empty");
    assert.equal(row.fields[keys["材料"]].length, 1);
    await p.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await photo.locator("img").count(), 0);

    // The record detail: each attachment field lists its files and opens the same dialog, saved at once.
    await p.getByRole("button", { name: "展开记录" }).first().click();
    const detail = p.getByRole("dialog", { name: "学生1" });
    await detail.getByRole("link", { name: "说明.pdf" }).waitFor();
    await detail.getByRole("button", { name: "照片" }).click();
    dialog = p.getByRole("dialog", { name: "照片", exact: true });
    await dialog.getByRole("button", { name: "上传文件" }).waitFor();
    await drop(p, dialog, [{ name: "操场.png", type: "image/png", buffer: await png(p, "操场", "#2e7d32") }]);
    await dialog.getByRole("button", { name: "预览 操场.png" }).waitFor();
    await screenshot(p, "93-record-detail-files-zh");
    await p.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await detail.getByRole("link", { name: "操场.png" }).waitFor();
    [row] = await records(server, sheet);
    assert.deepEqual(row.fields[keys["照片"]].map((f) => f.name), ["操场.png"]);
    // Saving the detail afterwards uses the version the file change returned (no conflict).
    await detail.getByRole("textbox", { name: "工时" }).fill("6");
    await detail.getByRole("button", { name: "保存" }).click();
    await detail.waitFor({ state: "hidden" });
    [row] = await records(server, sheet);
    assert.equal(row.fields[sheet.fields["工时"]], "6.0");
    assert.equal(row.fields[keys["照片"]].length, 1);

    // The same dialog in English.
    const en = await page(ctx, { locale: "en-US" });
    await logIn(en, server, sheet.path);
    await (await cell(en, 0, "材料")).dblclick();
    const english = en.getByRole("dialog", { name: "材料 · row 1" });
    await english.getByRole("button", { name: "Upload file" }).waitFor();
    await english.getByRole("link", { name: "Download 说明.pdf" }).waitFor();
    await english.getByRole("button", { name: "Remove 说明.pdf" }).waitFor();
    await checkAccessibility(en, "attachment dialog en");
    await screenshot(en, "98-attachment-dialog-en");
  },
});
