// The record detail: every field of one record in a dialog, each input named exactly by its field name,
// saved through the records API with If-Match (someone else's save in between shows theirs and mine of the
// changed fields, and the person picks); the record's history (who, when, field, old → new); and,
// for members who may write, its share links (`share.ts`). Link, member and department fields are edited
// with the grid's picker (`picker.ts`) inline: the input named by the field searches (a link: the linked
// table's records by primary field), the chosen items stay listed under it with their remove buttons.

import { call, toLogin } from "./api";
import { AttachmentEditor, filesOf, reasonOf, urlOf, type Saved } from "./attachments";
import { detailReason, errorMessage, t, type ApiError } from "./i18n";
import { Picker, pickedItems, sourceFor, type Source } from "./picker";
import { ShareTab } from "./share";
import { choices, display, isComputed, isEditable, isMultiple, isPicked, pickedApiValue, toApi, type Field } from "./values";

export interface RecordRow {
  id: string;
  version: number;
  fields: Record<string, unknown>;
}

interface HistoryEntry {
  at: string;
  actor: { type?: string; name: string };
  action: string;
  changes: { field: string; name: string | null; before: unknown; after: unknown }[];
}

function inputFor(field: Field, value: unknown, id: string): HTMLElement {
  const editable = isEditable(field) && !isComputed(field);
  if (!editable) {
    const output = document.createElement("output");
    output.id = id;
    output.className = "read-only";
    output.textContent = display(field, value);
    return output;
  }
  if (field.type === "checkbox") {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = id;
    box.checked = value === true;
    return box;
  }
  if (field.type === "single_select") {
    const select = document.createElement("select");
    select.id = id;
    const empty = document.createElement("option");
    empty.value = "";
    empty.textContent = "—";
    select.append(empty);
    for (const choice of choices(field)) {
      const option = document.createElement("option");
      option.value = choice.name;
      option.textContent = choice.name;
      option.selected = choice.name === value;
      select.append(option);
    }
    return select;
  }
  if (field.type === "long_text") {
    const area = document.createElement("textarea");
    area.id = id;
    area.rows = 4;
    area.value = display(field, value);
    return area;
  }
  const input = document.createElement("input");
  input.id = id;
  input.value = display(field, value);
  if (field.type === "date") input.type = "date";
  if (["number", "currency", "percent", "rating"].includes(field.type)) input.inputMode = "decimal";
  if (field.type === "email") input.type = "email";
  if (field.type === "url") input.type = "url";
  if (field.type === "phone") input.type = "tel";
  return input;
}

function valueOf(field: Field, element: HTMLElement): unknown {
  if (element instanceof HTMLInputElement && element.type === "checkbox") return element.checked;
  if (element instanceof HTMLInputElement || element instanceof HTMLSelectElement || element instanceof HTMLTextAreaElement) {
    return toApi(field, element.value);
  }
  return undefined;
}

export class RecordDetail {
  private dialog: HTMLDialogElement;
  private form: HTMLFormElement;
  private list: HTMLElement;
  private history: HTMLElement;
  private tabs: HTMLElement[];
  private panels: HTMLElement[];
  private record: RecordRow | null = null;
  private share: ShareTab | null = null;
  /** The pickers of the open record's picked fields, with the ids it had. */
  private pickers = new Map<string, { picker: Picker; original: string }>();
  private sources = new Map<string, Source>();

  constructor(
    dialog: HTMLDialogElement,
    private fields: Field[],
    private recordsUrl: (suffix: string) => string,
    private onSaved: (row: RecordRow) => void,
  ) {
    this.dialog = dialog;
    this.form = dialog.querySelector("form.record-form")!;
    this.list = dialog.querySelector(".record-fields")!;
    this.history = dialog.querySelector(".record-history")!;
    this.tabs = Array.from(dialog.querySelectorAll<HTMLElement>("[role=tab]"));
    this.panels = Array.from(dialog.querySelectorAll<HTMLElement>("[role=tabpanel]"));
    const sharePanel = dialog.querySelector<HTMLElement>(".record-share");
    if (sharePanel) this.share = new ShareTab(sharePanel, fields, recordsUrl);
    this.tabs.forEach((tab, index) => {
      tab.addEventListener("click", () => this.showTab(index));
      tab.addEventListener("keydown", (event) => {
        if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
        event.preventDefault();
        const next = (index + (event.key === "ArrowRight" ? 1 : this.tabs.length - 1)) % this.tabs.length;
        this.showTab(next);
        this.tabs[next].focus();
      });
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.save();
    });
  }

  private showTab(index: number): void {
    this.tabs.forEach((tab, i) => {
      tab.setAttribute("aria-selected", String(i === index));
      tab.tabIndex = i === index ? 0 : -1;
      this.panels[i].hidden = i !== index;
    });
    if (this.panels[index].contains(this.history)) void this.loadHistory();
    if (this.share && this.panels[index].classList.contains("record-share")) void this.share.load();
  }

  open(record: RecordRow, title: string): void {
    this.record = record;
    this.dialog.querySelector(".record-title")!.textContent = title;
    this.list.replaceChildren();
    this.pickers.clear();
    this.fields.forEach((field, index) => {
      const row = document.createElement("div");
      row.className = "field";
      const id = `record-field-${index}`;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = field.name;
      if (field.type === "attachment") {
        row.append(label, ...this.filesFor(field, id));
        this.list.append(row);
        return;
      }
      if (isPicked(field)) {
        row.append(label, ...this.pickerFor(field, record.fields[field.key], id));
        this.list.append(row);
        return;
      }
      const input = inputFor(field, record.fields[field.key], id);
      input.dataset.key = field.key;
      row.append(label, input);
      this.list.append(row);
    });
    this.clearErrors();
    this.share?.reset(record.id);
    this.showTab(0);
    this.dialog.showModal();
  }

  private files: AttachmentEditor | null = null;

  /** An attachment field: its files as download links, and a button (named by the field) that opens the
   * grid's file dialog; each change there is saved at once with If-Match. */
  private filesFor(field: Field, id: string): HTMLElement[] {
    const list = document.createElement("ul");
    list.className = "record-files";
    const draw = () => {
      list.replaceChildren(...filesOf(this.record?.fields[field.key]).map((file) => {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = urlOf(file);
        link.download = file.name;
        link.textContent = file.name;
        link.dataset.userContent = "";
        li.append(link);
        return li;
      }));
    };
    draw();
    const open = document.createElement("button");
    open.type = "button";
    open.id = id;
    open.dataset.key = field.key;
    open.className = "small";
    open.textContent = t("upload-file");
    open.addEventListener("click", () => {
      if (!this.record) return;
      this.files ??= new AttachmentEditor();
      this.files.open(field, field.name, filesOf(this.record.fields[field.key]), (ids) => this.saveFiles(field, ids), () => {
        draw();
        open.focus();
      });
    });
    return [list, open];
  }

  private async saveFiles(field: Field, ids: string[]): Promise<Saved> {
    const record = this.record;
    if (!record) return { ok: false, reason: t("js-offline") };
    const outcome = await call<RecordRow>("PATCH", this.recordsUrl(`/${encodeURIComponent(record.id)}`), { fields: { [field.key]: ids.length ? ids : null } }, {
      "if-match": `"${record.version}"`,
    });
    if (!outcome.ok) {
      if (outcome.status === 401) toLogin();
      return { ok: false, reason: reasonOf(outcome.error) };
    }
    this.record = outcome.body;
    this.onSaved(outcome.body);
    return { ok: true, files: filesOf(outcome.body.fields[field.key]) };
  }

  /** The search box of a picked field (named by the field) and its picker, keyboard and mouse. */
  private pickerFor(field: Field, value: unknown, id: string): HTMLElement[] {
    const input = document.createElement("input");
    input.id = id;
    input.dataset.key = field.key;
    input.autocomplete = "off";
    input.spellcheck = false;
    input.className = "picker-search";
    const multiple = isMultiple(field);
    const reset = () => {
      picker.hide();
      input.value = "";
    };
    const picker = new Picker(input, `${id}-picker`, () => reset(), true);
    const items = pickedItems(value);
    picker.preset(field, items, multiple);
    this.pickers.set(field.key, { picker, original: items.map((item) => item.id).join(",") });
    let source = this.sources.get(field.key);
    if (!source) {
      const app = decodeURIComponent(/\/apps\/([^/]+)\//.exec(this.recordsUrl(""))?.[1] ?? "");
      source = sourceFor(app, field);
      this.sources.set(field.key, source);
    }
    const show = () => {
      if (!picker.open) picker.show(field, picker.value(), multiple, source!);
    };
    let composing = false;
    input.addEventListener("click", show);
    input.addEventListener("compositionstart", () => (composing = true));
    input.addEventListener("compositionend", () => {
      composing = false;
      show();
      picker.search(input.value);
    });
    input.addEventListener("input", () => {
      if (composing) return;
      if (!picker.open) show();
      else picker.search(input.value);
    });
    input.addEventListener("keydown", (event) => {
      if (event.isComposing || event.keyCode === 229 || composing) return;
      if (!picker.open) {
        // The arrows open the matches; Backspace in the empty search removes the last chosen.
        if (!["ArrowDown", "ArrowUp", "Backspace"].includes(event.key)) return;
        show();
      }
      if (event.key === "Escape") {
        // Closes the matches, not the dialog.
        event.preventDefault();
        event.stopPropagation();
        reset();
        return;
      }
      if (picker.key(event) === "done") reset();
    });
    picker.box.addEventListener("focusout", (event) => {
      if (!picker.box.contains(event.relatedTarget as Node) && event.relatedTarget !== input) reset();
    });
    input.addEventListener("blur", (event) => {
      if (!picker.box.contains(event.relatedTarget as Node)) reset();
    });
    return [input, picker.box];
  }

  private clearErrors(): void {
    this.form.querySelectorAll(".field-error").forEach((node) => node.remove());
    this.form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
    const box = this.form.querySelector<HTMLElement>(".form-error");
    if (box) box.hidden = true;
  }

  private async save(): Promise<void> {
    if (!this.record) return;
    const changed: Record<string, unknown> = {};
    // What the person sees for each changed field (a picked field's items with their names).
    const shown: Record<string, unknown> = {};
    for (const field of this.fields) {
      const picked = this.pickers.get(field.key);
      if (picked && isPicked(field)) {
        const items = picked.picker.value();
        const ids = items.map((item) => item.id);
        if (ids.join(",") !== picked.original) {
          changed[field.key] = pickedApiValue(field, ids);
          shown[field.key] = items;
        }
        continue;
      }
      const element = this.list.querySelector<HTMLElement>(`[data-key="${CSS.escape(field.key)}"]`);
      if (!element || !isEditable(field) || isComputed(field)) continue;
      const value = valueOf(field, element);
      const before = this.record.fields[field.key] ?? null;
      const same = value === before || (value === null && before === undefined) || String(value) === display(field, before);
      if (!same) {
        changed[field.key] = value;
        shown[field.key] = value;
      }
    }
    if (!Object.keys(changed).length) {
      this.dialog.close();
      return;
    }
    const outcome = await call<RecordRow>("PATCH", this.recordsUrl(`/${encodeURIComponent(this.record.id)}`), { fields: changed }, {
      "if-match": `"${this.record.version}"`,
    });
    if (outcome.ok) {
      this.onSaved(outcome.body);
      this.dialog.close();
      return;
    }
    if (outcome.status === 401) return toLogin();
    if (outcome.status === 409 && outcome.error?.code === "conflict" && (await this.conflict(changed, shown))) return;
    this.refused(outcome);
  }

  /** Someone else saved the record since it was opened: theirs and mine of the fields this person
   * changed, side by side in the page's conflict dialog, and the person picks. Mine saves again over
   * their version; theirs shows the record as it now is. False when the dialog cannot be shown or the
   * second save is refused too (the caller then says why, nothing typed is lost). */
  private async conflict(changed: Record<string, unknown>, shown: Record<string, unknown>): Promise<boolean> {
    const chooser = document.getElementById("conflict-dialog") as HTMLDialogElement | null;
    const record = this.record;
    if (!chooser || !record) return false;
    const fresh = await call<RecordRow>("GET", this.recordsUrl(`/${encodeURIComponent(record.id)}`));
    if (!fresh.ok) return false;
    const theirs = fresh.body;
    const fields = this.fields.filter((field) => field.key in changed);
    const several = fields.length > 1;
    const line = (field: Field, value: unknown) => {
      const text = display(field, value) || t("js-empty-value");
      return several ? `${field.name}: ${text}` : text;
    };
    const separator = document.documentElement.lang.startsWith("zh") ? "、" : ", ";
    chooser.querySelector(".conflict-field")!.textContent = fields.map((field) => field.name).join(separator);
    chooser.querySelector(".conflict-theirs")!.textContent = fields.map((field) => line(field, theirs.fields[field.key])).join("; ");
    chooser.querySelector(".conflict-mine")!.textContent = fields.map((field) => line(field, shown[field.key])).join("; ");
    const choice = await new Promise<string>((resolve) => {
      chooser.addEventListener("close", () => resolve(chooser.returnValue), { once: true });
      // Esc closes without a value: the last choice must not count again.
      chooser.returnValue = "";
      chooser.showModal();
    });
    if (choice !== "mine") {
      this.onSaved(theirs);
      const title = this.dialog.querySelector(".record-title")!.textContent ?? "";
      this.dialog.close();
      this.open(theirs, title);
      return true;
    }
    const again = await call<RecordRow>("PATCH", this.recordsUrl(`/${encodeURIComponent(record.id)}`), { fields: changed }, {
      "if-match": `"${theirs.version}"`,
    });
    if (!again.ok) {
      this.record = theirs;
      this.refused(again);
      return true;
    }
    this.onSaved(again.body);
    this.dialog.close();
    return true;
  }

  /** A refused save: the translated reason above the form and at each field it names. */
  private refused(outcome: { error: ApiError | null }): void {
    this.clearErrors();
    const box = this.form.querySelector<HTMLElement>(".form-error")!;
    box.textContent = outcome.error ? errorMessage(outcome.error) : t("js-offline");
    box.hidden = false;
    for (const detail of outcome.error?.details ?? []) {
      const key = detail.field.replace(/^fields\./, "");
      const element = this.list.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`);
      if (!element) continue;
      element.setAttribute("aria-invalid", "true");
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = `${element.id}-error`;
      note.textContent = detailReason(detail);
      element.setAttribute("aria-describedby", note.id);
      element.insertAdjacentElement("afterend", note);
    }
  }

  private async loadHistory(): Promise<void> {
    if (!this.record) return;
    this.history.replaceChildren();
    const outcome = await call<{ items: HistoryEntry[] }>("GET", this.recordsUrl(`/${encodeURIComponent(this.record.id)}/history?page_size=100`));
    if (!outcome.ok) {
      this.history.textContent = outcome.error ? errorMessage(outcome.error) : t("js-offline");
      return;
    }
    if (!outcome.body.items.length) {
      this.history.textContent = t("js-history-empty");
      return;
    }
    const lang = document.documentElement.lang;
    for (const entry of outcome.body.items) {
      const item = document.createElement("li");
      const head = document.createElement("p");
      head.className = "history-head";
      const when = new Date(entry.at).toLocaleString(lang);
      // A visitor through a share link is named as one, in the page's language.
      const who = entry.actor.type === "share" ? t("js-actor-share") : entry.actor.name;
      head.textContent = t(`js-history-${entry.action}`, { who, when });
      item.append(head);
      const changes = document.createElement("ul");
      for (const change of entry.changes) {
        const field = this.fields.find((f) => f.key === change.field);
        const line = document.createElement("li");
        const name = document.createElement("strong");
        name.textContent = change.name ?? change.field;
        const before = field ? display(field, change.before) : String(change.before ?? "");
        const after = field ? display(field, change.after) : String(change.after ?? "");
        const text = document.createElement("span");
        text.textContent = ` ${before || t("js-empty-value")} → ${after || t("js-empty-value")}`;
        line.append(name, text);
        changes.append(line);
      }
      item.append(changes);
      this.history.append(item);
    }
  }
}
