// The grid island: a table's records as an ARIA grid, virtualized with @tanstack/virtual-core (only the
// rows in view are in the DOM), edited in place through the REST API.
//
// One native <input> (the editor) sits over the active cell and holds the focus whenever the grid does.
// While it is not editing, a keystroke that types (or an input method's first composition event) turns it
// into the cell's editor with that keystroke kept; while a composition is open (`isComposing`, keyCode
// 229) no key commits, moves or opens anything. Nothing typed is lost: a refused value (422) stays in the
// editor with the translated reason; a conflict (409) shows theirs and mine; a network error or 5xx
// keeps the edit pending (in localStorage, so it survives a reload and a new log-in) and retries it.

import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";
import { call, toLogin } from "./api";
import { detailReason, errorMessage, t, type ApiError } from "./i18n";
import { RecordDetail, type RecordRow } from "./record";
import { AttachmentEditor, fillAttachmentCell, filesOf, reasonOf, type Saved } from "./attachments";
import { Picker, pickedItems, sourceFor, type Item, type Source } from "./picker";
import {
  choices, display, editText, isComputed, isEditable, isMultiple, isPicked, localDateTime, parseTsv, pickedApiValue,
  pickedIds, setTimeZone, toApi, toTsv, zoneOf, type Field,
} from "./values";

interface Row {
  id: string;
  version: number;
  fields: Record<string, unknown>;
}

export interface Schema {
  app: string;
  table: string;
  primary_field: string | null;
  fields: Field[];
  can_write: boolean;
  can_build: boolean;
  /** The fields the view shows, in its order, with their widths (pixels; `null`: the default). */
  columns: { key: string; width: number | null }[];
  /** The grid view shown, if the table has one: its filter, sort, group_by, row_height. */
  view: { id: string; name: string; config: Record<string, unknown> } | null;
  /** The organization's time zone: date-times without their own are shown and typed in it. */
  time_zone?: string;
}

const ROW_HEIGHTS: Record<string, number> = { short: 36, medium: 56, tall: 88 };

interface Pending {
  record: string;
  key: string;
  value: unknown;
  text: string;
  version: number | null;
  /** What the cell shows meanwhile when it differs from what is sent (a picker's `{id, name}` items). */
  shown?: unknown;
}

interface Cell {
  row: number;
  col: number;
}

const PAGE = 200;
/** Rows beyond those drawn whose window is loaded ahead of the scroll (either way). */
const PREFETCH_ROWS = 120;
/** The height of a group's band (the row naming the group value above its first record). */
const BAND_HEIGHT = 28;

export class Grid {
  private schema: Schema;
  private root: HTMLElement;
  private scroller: HTMLElement;
  private table: HTMLTableElement;
  private body: HTMLTableSectionElement;
  private editor: HTMLInputElement;
  private reasonBox: HTMLElement;
  private listbox: HTMLUListElement;
  private rows: Row[] = [];
  private total = 0;
  /** Windows being fetched, by window number, and the windows already in `rows`. */
  private windows = new Map<number, Promise<void>>();
  private loaded = new Set<number>();
  private active: Cell = { row: 0, col: 0 };
  private anchor: Cell = { row: 0, col: 0 };
  private editing = false;
  private composing = false;
  private original = "";
  private option = -1;
  /** The person moved through the choices or typed: Tab then takes the highlighted one. */
  private optionTouched = false;
  private undo: { record: string; key: string; before: unknown }[] = [];
  private pending: Pending[];
  private inFlight = 0;
  private retryTimer: number | undefined;
  private invalid = new Map<string, string>();
  private virtualizer: Virtualizer<HTMLElement, HTMLTableRowElement>;
  private dragging = false;
  /** Saves of one record run one after another, each based on the version the previous one returned. */
  private chains = new Map<string, Promise<void>>();
  private detail: RecordDetail | null = null;
  private columns: Field[];
  private rowHeight: number;
  /** The view's group field, if it groups: rows with the same value sit together under a band. */
  private groupField: Field | null = null;
  /** The searchable popup of member, department and link cells, and where each field's items come from. */
  private picker: Picker;
  private sources = new Map<string, Source>();

  constructor(root: HTMLElement) {
    this.root = root;
    this.schema = tableSchema()!;
    setTimeZone(this.schema.time_zone);
    const byKey = new Map(this.schema.fields.map((f) => [f.key, f]));
    this.columns = (this.schema.columns ?? this.schema.fields.map((f) => ({ key: f.key, width: null })))
      .map((c) => byKey.get(c.key))
      .filter((f): f is Field => !!f);
    const config = this.schema.view?.config ?? {};
    this.rowHeight = ROW_HEIGHTS[String(config.row_height ?? "short")] ?? ROW_HEIGHTS.short;
    if (typeof config.group_by === "string") this.groupField = byKey.get(config.group_by) ?? null;
    try {
      const stored = JSON.parse(localStorage.getItem(`tenon-folded:${this.schema.view?.id ?? this.schema.table}`) ?? "[]");
      if (this.groupField && Array.isArray(stored)) this.folded = new Set(stored.map(String));
    } catch {
      this.folded = new Set();
    }
    this.scroller = root.querySelector<HTMLElement>(".grid-scroll")!;
    this.table = root.querySelector("table")!;
    this.body = this.table.tBodies[0];
    this.editor = document.createElement("input");
    this.editor.className = "cell-editor";
    this.editor.setAttribute("autocomplete", "off");
    this.editor.spellcheck = false;
    // Named by the table until a cell is selected (then by the cell's field and row).
    this.editor.setAttribute("aria-label", this.table.getAttribute("aria-label") ?? "");
    this.reasonBox = document.createElement("div");
    this.reasonBox.className = "cell-reason";
    this.reasonBox.setAttribute("role", "alert");
    this.reasonBox.hidden = true;
    this.listbox = document.createElement("ul");
    this.listbox.className = "cell-options";
    this.listbox.setAttribute("role", "listbox");
    this.listbox.id = `${root.id || "grid"}-options`;
    this.listbox.hidden = true;
    this.listbox.setAttribute("aria-label", this.table.getAttribute("aria-label") ?? "");
    this.picker = new Picker(this.editor, `${root.id || "grid"}-picker`, (then) => this.commit(then));
    this.scroller.append(this.editor, this.reasonBox, this.listbox, this.picker.box);
    this.pending = this.loadPending();
    this.virtualizer = new Virtualizer<HTMLElement, HTMLTableRowElement>({
      count: 0,
      getScrollElement: () => this.scroller,
      estimateSize: (index) =>
        (this.isFolded(index) ? 0 : this.rowHeight) + (this.groupBand(index, this.rows[index]) === null ? 0 : BAND_HEIGHT),
      overscan: 8,
      observeElementRect,
      observeElementOffset,
      scrollToFn: elementScroll,
      onChange: () => this.render(),
    });
    this.virtualizer._didMount();
    const dialog = document.getElementById("record-dialog");
    if (dialog instanceof HTMLDialogElement) {
      this.detail = new RecordDetail(dialog, this.schema.fields, (suffix) => this.recordsUrl(suffix), (saved) => this.replaceRow(saved));
    }
    this.table.classList.add(`rows-${String(config.row_height ?? "short")}`);
    this.sizeColumns();
    this.bind();
    void this.start();
  }

  /** The grid's columns: the fields the view shows, in its order. */
  private get fields(): Field[] {
    return this.columns;
  }

  /** Column widths from the view; a header's edge can be dragged (or use the view's field list). */
  private sizeColumns(): void {
    const widths = new Map((this.schema.columns ?? []).map((c) => [c.key, c.width]));
    this.table.querySelectorAll<HTMLTableCellElement>("thead th[data-key]").forEach((th) => {
      const width = widths.get(th.dataset.key ?? "");
      if (width) {
        th.style.width = `${width}px`;
        th.style.minWidth = `${width}px`;
      }
      if (!this.schema.can_build || !this.schema.view) return;
      const handle = document.createElement("span");
      handle.className = "col-resize";
      handle.setAttribute("aria-hidden", "true");
      handle.title = t("js-resize-column", { name: th.textContent ?? "" });
      th.append(handle);
      handle.addEventListener("mousedown", (event) => {
        event.preventDefault();
        event.stopPropagation();
        const startX = event.clientX;
        const start = th.getBoundingClientRect().width;
        const move = (e: MouseEvent) => {
          const next = Math.max(60, Math.min(800, Math.round(start + e.clientX - startX)));
          th.style.width = `${next}px`;
          th.style.minWidth = `${next}px`;
          this.placeEditor();
        };
        const up = () => {
          document.removeEventListener("mousemove", move);
          document.removeEventListener("mouseup", up);
          void this.saveWidth(th.dataset.key ?? "", Math.round(th.getBoundingClientRect().width));
        };
        document.addEventListener("mousemove", move);
        document.addEventListener("mouseup", up);
      });
    });
  }

  private async saveWidth(key: string, width: number): Promise<void> {
    const view = this.schema.view;
    if (!view) return;
    const stored = Array.isArray(view.config.fields) ? (view.config.fields as unknown[]) : this.schema.fields.map((f) => f.key);
    const entries = stored.map((entry) => (typeof entry === "string" ? { field: entry } : { ...(entry as Record<string, unknown>) }));
    const found = entries.find((e) => e.field === key);
    if (found) found.width = width;
    else entries.push({ field: key, width });
    view.config.fields = entries;
    const url = `/api/v1/apps/${encodeURIComponent(this.schema.app)}/tables/${encodeURIComponent(this.schema.table)}/views/${encodeURIComponent(view.id)}`;
    this.ownViewSaves += 1;
    const outcome = await call("PATCH", url, { name: view.name, type: "grid", config: view.config });
    if (!outcome.ok) this.ownViewSaves = Math.max(0, this.ownViewSaves - 1);
    const status = document.getElementById("save-status");
    if (status) status.textContent = outcome.ok ? t("js-view-saved") : outcome.error ? errorMessage(outcome.error) : t("js-offline");
  }

  /** The list query of the view: its filter, and its sort behind the group field when it groups. */
  private viewQuery(query: URLSearchParams): void {
    const config = this.schema.view?.config ?? {};
    if (config.filter) query.set("filter", JSON.stringify(config.filter));
    const sort = typeof config.sort === "string" ? config.sort.split(",").filter(Boolean) : [];
    if (this.groupField) {
      const key = this.groupField.key;
      const rest = sort.filter((part) => part.replace(/^-/, "") !== key);
      const own = sort.find((part) => part.replace(/^-/, "") === key) ?? key;
      sort.splice(0, sort.length, own, ...rest);
    }
    if (sort.length) query.set("sort", sort.join(","));
  }

  private recordsUrl(suffix = ""): string {
    return `/api/v1/apps/${encodeURIComponent(this.schema.app)}/tables/${encodeURIComponent(this.schema.table)}/records${suffix}`;
  }

  private async start(): Promise<void> {
    await this.loadPage(0);
    this.applyPending();
    this.render();
    if (this.pending.length) void this.flush();
    this.listen();
  }

  // ---- live updates -------------------------------------------------------------------------------
  //
  // Other people's changes arrive on the event stream (Server-Sent Events, the session's cookie): a changed
  // record loaded here is read again and its changed cells are marked for a moment; a created or deleted
  // one reloads the windows in view (and the count). A change to the table's fields or views shows a notice
  // with a reload button (this person's unsaved edits survive a reload).

  private refreshTimer: number | undefined;
  /** The count of records the first window last brought. */
  private counted = 0;
  private changed = new Set<string>();
  private reshaped = false;
  /** Cells another person just changed (`record:field`), marked until the timer clears them. */
  private flashed = new Set<string>();
  private flashTimer: number | undefined;
  /** This page's own saves of its view (a column's width) whose `schema.changed` has not come yet. */
  private ownViewSaves = 0;

  private listen(): void {
    if (typeof EventSource === "undefined") return;
    const source = new EventSource("/api/v1/events/stream?types=record.*,schema.changed");
    source.addEventListener("schema.changed", (event: MessageEvent) => {
      let envelope: { subject?: { table_id?: string | null }; data?: { object?: string; after?: { id?: string } | null } };
      try {
        envelope = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (envelope.subject?.table_id !== this.schema.table) return;
      // The page's own column resize is not news to it.
      if (envelope.data?.object === "view" && envelope.data.after?.id === this.schema.view?.id && this.ownViewSaves > 0) {
        this.ownViewSaves -= 1;
        return;
      }
      const notice = document.getElementById("schema-notice");
      if (!notice || notice.childElementCount) return;
      const text = document.createElement("span");
      text.textContent = t("js-schema-changed");
      const reload = document.createElement("button");
      reload.type = "button";
      reload.textContent = t("js-reload");
      reload.addEventListener("click", () => location.reload());
      notice.append(text, " ", reload);
    });
    const onEvent = (event: MessageEvent) => {
      let envelope: { type?: string; subject?: { table_id?: string; record_id?: string } };
      try {
        envelope = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (envelope.subject?.table_id !== this.schema.table) return;
      if (event.type === "record.updated" && envelope.subject.record_id) this.changed.add(envelope.subject.record_id);
      else this.reshaped = true;
      window.clearTimeout(this.refreshTimer);
      this.refreshTimer = window.setTimeout(() => void this.refresh(), 100);
    };
    for (const type of ["record.created", "record.updated", "record.deleted"]) source.addEventListener(type, onEvent);
    window.addEventListener("pagehide", () => source.close());
  }

  /** True while this page has an edit of the record on its way or waiting. */
  private busy(record: string): boolean {
    return this.inFlight > 0 && this.chains.has(record) || this.pending.some((p) => p.record === record);
  }

  private async refresh(): Promise<void> {
    const changed = [...this.changed];
    const reshaped = this.reshaped;
    this.changed.clear();
    this.reshaped = false;
    if (reshaped) {
      // Records came or went: the windows in view (and the first, which brings the count) are read again.
      const pages = new Set([0, ...this.virtualizer.getVirtualItems().map((item) => Math.floor(item.index / PAGE))]);
      const old = this.rows;
      this.rows = [];
      this.loaded.clear();
      for (const page of pages) {
        for (let i = page * PAGE; i < (page + 1) * PAGE && i < old.length; i++) if (old[i]) this.rows[i] = old[i];
      }
      await Promise.all([...pages].map((page) => this.loadPage(page)));
      // Rows kept from before that are past the new count (records deleted) go.
      if (this.rows.length > this.counted) this.rows.length = this.counted;
      this.total = this.counted;
      this.render();
      return;
    }
    for (const id of changed) {
      const index = this.rows.findIndex((r) => r?.id === id);
      if (index < 0 || this.busy(id)) continue;
      const fresh = await call<Row>("GET", this.recordsUrl(`/${encodeURIComponent(id)}`));
      const row = this.rows[index];
      if (!fresh.ok || !row || row.id !== id || this.busy(id) || fresh.body.version <= row.version) continue;
      for (const field of this.fields) {
        if (JSON.stringify(row.fields[field.key] ?? null) !== JSON.stringify(fresh.body.fields[field.key] ?? null)) {
          this.flashed.add(`${id}:${field.key}`);
        }
      }
      this.rows[index] = fresh.body;
    }
    this.applyPending();
    this.render();
    if (this.flashed.size) {
      window.clearTimeout(this.flashTimer);
      this.flashTimer = window.setTimeout(() => {
        this.flashed.clear();
        this.render();
      }, 2500);
    }
  }

  // ---- data ---------------------------------------------------------------------------------------
  //
  // Records arrive in windows of PAGE rows by position (the records API's `offset`, in the view's order),
  // so a jump anywhere — the scrollbar dragged to the middle, Ctrl+End on 100,000 rows — loads only the
  // window it lands in. `rows` is sparse: a row not loaded yet is a hole drawn as an empty row.

  private async loadPage(page: number): Promise<void> {
    if (page < 0 || this.loaded.has(page)) return;
    const running = this.windows.get(page);
    if (running) return running;
    const loading = (async () => {
      const query = new URLSearchParams({ page_size: String(PAGE), offset: String(page * PAGE) });
      // The count comes with the first window (and again whenever the first window is reloaded).
      if (page === 0) query.set("count", "true");
      this.viewQuery(query);
      const outcome = await call<{ items: Row[]; next_cursor: string | null; total?: number }>("GET", this.recordsUrl(`?${query}`));
      this.windows.delete(page);
      if (!outcome.ok) {
        if (outcome.status === 401) toLogin();
        return;
      }
      outcome.body.items.forEach((item, i) => {
        const at = page * PAGE + i;
        const kept = this.rows[at];
        // A row this person is saving, or one a save made newer than this page, stays the same object:
        // queued saves of it send the version the previous save returned into that object, and a page
        // read before that save committed would put the old version (and old values) back.
        if (kept && kept.id === item.id && (this.busy(item.id) || kept.version >= item.version)) return;
        this.rows[at] = item;
      });
      this.loaded.add(page);
      if (typeof outcome.body.total === "number") this.total = this.counted = outcome.body.total;
      this.total = Math.max(this.total, this.rows.length);
      // Group bands change row sizes once their rows are known.
      if (this.groupField) this.virtualizer.measure();
      this.applyPending();
      this.render();
    })();
    this.windows.set(page, loading);
    return loading;
  }

  /** Loads the window holding row `index`. */
  private async loadUntil(index: number): Promise<void> {
    if (index < 0) return;
    await this.loadPage(Math.floor(index / PAGE));
  }

  // ---- rendering ----------------------------------------------------------------------------------

  private render(): void {
    this.virtualizer.setOptions({ ...this.virtualizer.options, count: this.total });
    this.virtualizer._willUpdate();
    const items = this.virtualizer.getVirtualItems();
    this.table.setAttribute("aria-rowcount", String(this.total + 1));
    const fragment = document.createDocumentFragment();
    const top = items.length ? items[0].start : 0;
    const bottom = items.length ? this.virtualizer.getTotalSize() - items[items.length - 1].end : 0;
    fragment.append(this.spacer(top));
    const missing = new Set<number>();
    for (const item of items) {
      const row = this.rows[item.index];
      if (!row) missing.add(Math.floor(item.index / PAGE));
      const band = this.groupBand(item.index, row);
      if (band !== null && row) fragment.append(this.bandElement(band, this.groupValue(row)));
      if (!this.isFolded(item.index)) fragment.append(this.rowElement(item.index, row));
    }
    fragment.append(this.spacer(bottom));
    this.body.replaceChildren(fragment);
    this.placeEditor();
    // The windows just before and after the rows drawn are asked for ahead, so scrolling on reaches rows
    // that are already there (no blank rows while a window loads).
    if (items.length) {
      for (const index of [items[0].index - PREFETCH_ROWS, items[items.length - 1].index + PREFETCH_ROWS]) {
        if (index >= 0 && index < this.total && !this.rows[index]) missing.add(Math.floor(index / PAGE));
      }
    }
    for (const page of missing) void this.loadPage(page);
  }

  private spacer(height: number): HTMLTableRowElement {
    const tr = document.createElement("tr");
    tr.className = "spacer";
    tr.setAttribute("role", "presentation");
    const td = document.createElement("td");
    td.colSpan = this.fields.length + 1;
    td.style.height = `${height}px`;
    tr.append(td);
    return tr;
  }

  /** A group's band: a button that folds the group's records away (and back), named by the group. */
  private bandElement(text: string, value: string): HTMLTableRowElement {
    const tr = document.createElement("tr");
    tr.className = "group-band";
    tr.setAttribute("role", "row");
    const td = document.createElement("td");
    td.colSpan = this.fields.length + 1;
    td.setAttribute("role", "gridcell");
    td.setAttribute("aria-colspan", String(this.fields.length + 1));
    const button = document.createElement("button");
    button.type = "button";
    button.className = "band-toggle";
    button.dataset.group = value;
    const open = !this.folded.has(value);
    button.setAttribute("aria-expanded", String(open));
    button.title = t("js-group-toggle-hint");
    const mark = document.createElement("span");
    mark.className = "band-mark";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = open ? "▾" : "▸";
    const label = document.createElement("span");
    label.textContent = text;
    button.append(mark, label);
    td.append(button);
    tr.append(td);
    return tr;
  }

  // ---- folded groups: a group's records hidden under its band (kept per view in this browser) ----

  private folded = new Set<string>();

  private foldKey(): string {
    return `tenon-folded:${this.schema.view?.id ?? this.schema.table}`;
  }

  private groupValue(row: Row): string {
    const field = this.groupField!;
    return display(field, row.fields[field.key]) || t("js-empty-value");
  }

  private isFolded(index: number): boolean {
    const row = this.rows[index];
    return !!this.groupField && !!row && this.folded.size > 0 && this.folded.has(this.groupValue(row));
  }

  private fold(value: string, folded: boolean): void {
    if (folded) this.folded.add(value);
    else this.folded.delete(value);
    try {
      if (this.folded.size) localStorage.setItem(this.foldKey(), JSON.stringify([...this.folded]));
      else localStorage.removeItem(this.foldKey());
    } catch {
      // Private browsing: the folds last until the page is left.
    }
    // The active cell leaves a folded group for the next record shown (or the last one before it).
    if (this.isFolded(this.active.row)) {
      let next = this.active.row;
      while (next < this.total - 1 && this.isFolded(next)) next++;
      while (next > 0 && this.isFolded(next)) next--;
      this.active = { row: next, col: this.active.col };
      this.anchor = { ...this.active };
    }
    this.virtualizer.measure();
    this.render();
  }

  /** The group band's text when `index` starts a group (its group value differs from the row above). */
  private groupBand(index: number, row: Row | undefined): string | null {
    const field = this.groupField;
    if (!field || !row) return null;
    const value = display(field, row.fields[field.key]) || t("js-empty-value");
    const above = index > 0 ? this.rows[index - 1] : undefined;
    if (above && (display(field, above.fields[field.key]) || t("js-empty-value")) === value) return null;
    return t("js-group-band", { field: field.name, value });
  }

  private inRange(row: number, col: number): boolean {
    const [r0, r1] = [Math.min(this.anchor.row, this.active.row), Math.max(this.anchor.row, this.active.row)];
    const [c0, c1] = [Math.min(this.anchor.col, this.active.col), Math.max(this.anchor.col, this.active.col)];
    return row >= r0 && row <= r1 && col >= c0 && col <= c1;
  }

  private rowElement(index: number, row: Row | undefined): HTMLTableRowElement {
    const tr = document.createElement("tr");
    tr.setAttribute("aria-rowindex", String(index + 2));
    tr.dataset.row = String(index);
    if (this.groupBand(index, row) !== null) tr.classList.add("group-start");
    const head = document.createElement("th");
    head.scope = "row";
    head.className = "row-head";
    head.textContent = String(index + 1);
    if (row) {
      const expand = document.createElement("button");
      expand.type = "button";
      expand.className = "expand";
      expand.dataset.row = String(index);
      expand.setAttribute("aria-label", t("js-expand-record"));
      expand.title = t("js-expand-record");
      expand.textContent = "⤢";
      head.append(expand);
    }
    tr.append(head);
    this.fields.forEach((field, col) => {
      const td = document.createElement("td");
      td.setAttribute("role", "gridcell");
      td.setAttribute("aria-colindex", String(col + 2));
      td.dataset.row = String(index);
      td.dataset.col = String(col);
      td.className = `cell type-${field.type}`;
      if (!this.canEdit(field)) td.setAttribute("aria-readonly", "true");
      const selected = this.inRange(index, col);
      td.setAttribute("aria-selected", String(selected));
      if (selected) td.classList.add("in-range");
      if (index === this.active.row && col === this.active.col) td.classList.add("active");
      if (row) {
        const value = row.fields[field.key];
        const marker = `${row.id}:${field.key}`;
        if (this.invalid.has(marker)) td.classList.add("invalid");
        if (this.pending.some((p) => p.record === row.id && p.key === field.key)) td.classList.add("pending");
        if (this.flashed.has(marker)) td.classList.add("live-changed");
        this.fillCell(td, field, value);
      }
      tr.append(td);
    });
    return tr;
  }

  private fillCell(td: HTMLElement, field: Field, value: unknown): void {
    if (field.type === "single_select" || field.type === "multi_select") {
      const names = Array.isArray(value) ? value.map(String) : value == null ? [] : [String(value)];
      for (const name of names) {
        const chip = document.createElement("span");
        const color = choices(field).find((choice) => choice.name === name)?.color ?? "gray";
        chip.className = `chip chip-${color}`;
        chip.textContent = name;
        td.append(chip);
      }
      return;
    }
    if (field.type === "checkbox") {
      const box = document.createElement("span");
      box.className = value === true ? "check on" : "check";
      box.textContent = value === true ? "✓" : "";
      td.append(box);
      return;
    }
    if (field.type === "attachment") {
      fillAttachmentCell(td, value);
      return;
    }
    if (isPicked(field)) {
      for (const item of pickedItems(value)) {
        const chip = document.createElement("span");
        chip.className = field.type === "link" ? "chip chip-gray" : "chip chip-blue";
        chip.textContent = item.name;
        td.append(chip);
      }
      return;
    }
    if (field.type === "rating") {
      const max = ratingMax(field);
      const count = typeof value === "number" ? Math.max(0, Math.min(max, value)) : 0;
      const stars = document.createElement("span");
      stars.className = "stars";
      stars.setAttribute("aria-hidden", "true");
      stars.textContent = "★".repeat(count) + "☆".repeat(max - count);
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = count ? t("js-rating-value", { value: count, max }) : t("js-rating-none");
      td.append(stars, label);
      return;
    }
    const text = display(field, value);
    if (value && typeof value === "object" && !Array.isArray(value) && "error" in (value as object)) td.classList.add("formula-error");
    td.textContent = text;
  }

  private cellElement(cell: Cell): HTMLElement | null {
    return this.body.querySelector<HTMLElement>(`td[data-row="${cell.row}"][data-col="${cell.col}"]`);
  }

  private placeEditor(): void {
    const td = this.cellElement(this.active);
    const field = this.fields[this.active.col];
    if (!td || !field) return;
    const box = this.scroller.getBoundingClientRect();
    const rect = td.getBoundingClientRect();
    const left = rect.left - box.left + this.scroller.scrollLeft;
    const top = rect.top - box.top + this.scroller.scrollTop;
    this.editor.style.left = `${left}px`;
    this.editor.style.top = `${top}px`;
    this.editor.style.width = `${rect.width}px`;
    this.editor.style.height = `${rect.height}px`;
    this.reasonBox.style.left = `${left}px`;
    this.reasonBox.style.top = `${top + rect.height}px`;
    this.listbox.style.left = `${left}px`;
    this.listbox.style.top = `${top + rect.height}px`;
    this.listbox.style.minWidth = `${rect.width}px`;
    this.picker.place(left, top + rect.height, rect.width);
    const row = this.rows[this.active.row];
    const label = `${field.name} ${this.active.row + 1}`;
    this.editor.setAttribute("aria-label", label);
    this.editor.classList.toggle("editing", this.editing);
    if (!this.editing && row) {
      // Screen readers hear the cell's value when the selection moves.
      this.editor.setAttribute("aria-description", display(field, row.fields[field.key]));
    }
  }

  // ---- events -------------------------------------------------------------------------------------

  private bind(): void {
    this.scroller.addEventListener("click", (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button.expand");
      if (button) this.expand(Number(button.dataset.row));
      const band = (event.target as HTMLElement).closest<HTMLButtonElement>("button.band-toggle");
      if (band) {
        const value = band.dataset.group ?? "";
        this.fold(value, !this.folded.has(value));
        // The same band, drawn again, keeps the focus.
        this.body.querySelector<HTMLButtonElement>(`button.band-toggle[data-group="${CSS.escape(value)}"]`)?.focus();
      }
    });
    this.scroller.addEventListener("mousedown", (event) => {
      const td = (event.target as HTMLElement).closest<HTMLElement>("td.cell");
      if (!td) return;
      event.preventDefault();
      if (this.editing) this.commit("stay");
      const cell = { row: Number(td.dataset.row), col: Number(td.dataset.col) };
      if (event.shiftKey) this.active = cell;
      else this.select(cell);
      this.dragging = true;
      this.render();
      this.editor.focus();
      // A double click: the first click redrew the row, so no `dblclick` reaches the cell; the second
      // press (the browser counts it) opens the editor.
      if (event.detail === 2 && !event.shiftKey) {
        this.dragging = false;
        this.beginEdit(null);
      }
    });
    this.scroller.addEventListener("mouseover", (event) => {
      if (!this.dragging) return;
      const td = (event.target as HTMLElement).closest<HTMLElement>("td.cell");
      if (!td) return;
      this.active = { row: Number(td.dataset.row), col: Number(td.dataset.col) };
      this.render();
    });
    document.addEventListener("mouseup", () => (this.dragging = false));
    // Files dropped onto an attachment cell: the cell is chosen and its file dialog opens with them
    // being uploaded and added, as if picked there (errors and progress are the dialog's).
    const dropCell = (event: DragEvent): Cell | null => {
      if (!event.dataTransfer?.types.includes("Files")) return null;
      const target = event.target as HTMLElement;
      const td = target.closest<HTMLElement>("td.cell");
      const cell = td ? { row: Number(td.dataset.row), col: Number(td.dataset.col) } : target === this.editor ? { ...this.active } : null;
      if (!cell || this.editing) return null;
      const field = this.fields[cell.col];
      return field?.type === "attachment" && this.canEdit(field) && this.rows[cell.row] ? cell : null;
    };
    this.scroller.addEventListener("dragover", (event) => {
      const cell = dropCell(event);
      this.body.querySelectorAll("td.drop-over").forEach((td) => td.classList.remove("drop-over"));
      if (!cell) return;
      event.preventDefault();
      this.body.querySelector(`td.cell[data-row="${cell.row}"][data-col="${cell.col}"]`)?.classList.add("drop-over");
    });
    this.scroller.addEventListener("dragleave", () => {
      this.body.querySelectorAll("td.drop-over").forEach((td) => td.classList.remove("drop-over"));
    });
    this.scroller.addEventListener("drop", (event) => {
      const cell = dropCell(event);
      this.body.querySelectorAll("td.drop-over").forEach((td) => td.classList.remove("drop-over"));
      if (!cell) return;
      event.preventDefault();
      const dropped = Array.from(event.dataTransfer?.files ?? []);
      this.select(cell);
      this.render();
      this.openFiles(this.rows[cell.row], this.fields[cell.col], dropped);
    });
    this.scroller.addEventListener("dblclick", (event) => {
      const target = event.target as HTMLElement;
      if (target === this.editor && !this.editing) this.beginEdit(null);
    });
    // The grid's focus lives in the editor; a group band's button may take it (Tab reaches the bands).
    this.table.addEventListener("focusin", (event) => {
      if (!(event.target as HTMLElement).closest("button.band-toggle")) this.editor.focus();
    });
    this.editor.addEventListener("keydown", (event) => this.onKey(event));
    this.editor.addEventListener("compositionstart", () => {
      this.composing = true;
      // The first pinyin keystroke opens the editor and is kept (the composition is already in the input).
      if (!this.editing) this.beginEdit(undefined);
    });
    this.editor.addEventListener("compositionend", () => {
      this.composing = false;
      this.filterOptions();
      this.picker.search(this.editor.value);
    });
    this.editor.addEventListener("input", () => {
      if (!this.editing) this.beginEdit(undefined);
      this.filterOptions();
      // Pinyin letters mid-composition are not a search; the composed characters are.
      if (!this.composing) this.picker.search(this.editor.value);
    });
    this.editor.addEventListener("copy", (event) => this.onCopy(event, false));
    this.editor.addEventListener("cut", (event) => this.onCopy(event, true));
    this.editor.addEventListener("paste", (event) => this.onPaste(event));
    this.editor.addEventListener("blur", () => {
      if (this.editing && !this.composing) this.commit("stay");
    });
    window.addEventListener("beforeunload", (event) => {
      if (this.pending.length || this.inFlight) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    window.addEventListener("online", () => void this.flush());
    this.root.querySelectorAll<HTMLButtonElement>("[data-action=new-record]").forEach((button) =>
      button.addEventListener("click", () => void this.newRecord()),
    );
  }

  private expand(index: number): void {
    const row = this.rows[index];
    if (!row || !this.detail) return;
    const primary = this.fields.find((f) => f.key === this.schema.primary_field) ?? this.fields[0];
    const title = (primary && display(primary, row.fields[primary.key])) || String(index + 1);
    this.detail.open(row, title);
  }

  private replaceRow(saved: RecordRow): void {
    const index = this.rows.findIndex((r) => r?.id === saved.id);
    if (index >= 0) this.rows[index] = saved;
    this.status();
    this.render();
    this.editor.focus();
  }

  private select(cell: Cell): void {
    this.active = cell;
    this.anchor = { ...cell };
  }

  private move(dRow: number, dCol: number, extend = false): void {
    let row = Math.max(0, Math.min(this.total - 1, this.active.row + dRow));
    // Records of folded groups are stepped over.
    const step = Math.sign(dRow);
    while (step !== 0 && this.isFolded(row) && row + step >= 0 && row + step <= this.total - 1) row += step;
    if (this.isFolded(row)) row = this.active.row;
    const col = Math.max(0, Math.min(this.fields.length - 1, this.active.col + dCol));
    this.moveTo({ row, col }, extend);
  }

  private moveTo(cell: Cell, extend = false): void {
    this.active = cell;
    if (!extend) this.anchor = { ...cell };
    this.hideReason();
    this.virtualizer.scrollToIndex(cell.row, { align: "auto" });
    void this.loadUntil(cell.row).then(() => this.render());
    this.render();
  }

  private onKey(event: KeyboardEvent): void {
    // An input method is composing: its keys are its own (Enter picks a candidate, arrows move in it).
    if (event.isComposing || event.keyCode === 229 || this.composing) return;
    const mod = event.ctrlKey || event.metaKey;
    if (this.editing) {
      this.onEditingKey(event);
      return;
    }
    const field = this.fields[this.active.col];
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown") && this.groupField) {
      // Alt+↑ folds the active record's group, Alt+↓ unfolds the group below the active record.
      event.preventDefault();
      const row = this.rows[this.active.row];
      if (event.key === "ArrowUp" && row) return this.fold(this.groupValue(row), true);
      const below = this.rows.slice(this.active.row + 1).find((r) => r && this.folded.has(this.groupValue(r)));
      if (below) this.fold(this.groupValue(below), false);
      return;
    }
    switch (event.key) {
      case "ArrowUp":
        event.preventDefault();
        return mod ? this.moveTo({ row: 0, col: this.active.col }, event.shiftKey) : this.move(-1, 0, event.shiftKey);
      case "ArrowDown":
        event.preventDefault();
        return mod
          ? this.moveTo({ row: Math.max(0, this.total - 1), col: this.active.col }, event.shiftKey)
          : this.move(1, 0, event.shiftKey);
      case "ArrowLeft":
        event.preventDefault();
        return this.move(0, -1, event.shiftKey);
      case "ArrowRight":
        event.preventDefault();
        return this.move(0, 1, event.shiftKey);
      case "Tab":
        if (event.shiftKey ? this.active.col === 0 : this.active.col === this.fields.length - 1) return;
        event.preventDefault();
        return this.move(0, event.shiftKey ? -1 : 1);
      case "PageDown":
        event.preventDefault();
        return this.move(Math.floor(this.scroller.clientHeight / this.rowHeight), 0, event.shiftKey);
      case "PageUp":
        event.preventDefault();
        return this.move(-Math.floor(this.scroller.clientHeight / this.rowHeight), 0, event.shiftKey);
      case "Home":
        event.preventDefault();
        return this.moveTo({ row: mod ? 0 : this.active.row, col: 0 }, event.shiftKey);
      case "End":
        event.preventDefault();
        return this.moveTo({ row: mod ? Math.max(0, this.total - 1) : this.active.row, col: this.fields.length - 1 }, event.shiftKey);
      case "Enter":
      case "F2":
        event.preventDefault();
        if (field?.type === "checkbox") return this.toggle();
        return this.beginEdit(null);
      case " ":
        if (field?.type === "checkbox") {
          event.preventDefault();
          return this.toggle();
        }
        return;
      case "Delete":
      case "Backspace":
        event.preventDefault();
        return this.clearRange();
      case "Escape":
        this.anchor = { ...this.active };
        this.hideReason();
        return this.render();
    }
    if (mod && event.key.toLowerCase() === "z") {
      event.preventDefault();
      void this.undoLast();
    }
    // Other keys (letters, digits, Ctrl+C/V/X) go to the input: typing replaces the cell's value.
  }

  private onEditingKey(event: KeyboardEvent): void {
    const field = this.fields[this.active.col];
    const listed = !this.listbox.hidden;
    if (this.picker.open) {
      const outcome = this.picker.key(event);
      if (outcome === "handled") return;
      if (outcome === "done") {
        this.commit("down");
        return;
      }
    }
    switch (event.key) {
      case "Enter":
        event.preventDefault();
        if (listed && this.option >= 0) this.pickOption(this.option);
        this.commit("down");
        return;
      case "Tab":
        event.preventDefault();
        if (listed && this.option >= 0 && this.optionTouched) this.pickOption(this.option);
        this.commit(event.shiftKey ? "left" : "right");
        return;
      case "Escape":
        event.preventDefault();
        this.cancelEdit();
        return;
      case "ArrowDown":
      case "ArrowUp":
        if ((field?.type === "single_select" || field?.type === "rating") && listed) {
          event.preventDefault();
          const count = this.listbox.children.length;
          if (count) this.highlight((this.option + (event.key === "ArrowDown" ? 1 : count - 1)) % count);
          this.optionTouched = true;
        }
        return;
    }
  }

  // ---- editing ------------------------------------------------------------------------------------

  private canEdit(field: Field | undefined): field is Field {
    return !!field && this.schema.can_write && (isEditable(field) || isPicked(field) || field.type === "attachment") && !isComputed(field);
  }

  /** Opens the editor: `null` starts from the cell's value, `undefined` keeps what was just typed. */
  private beginEdit(start: string | null | undefined): void {
    const field = this.fields[this.active.col];
    const row = this.rows[this.active.row];
    if (!this.canEdit(field) || !row) {
      this.editor.value = "";
      return;
    }
    this.anchor = { ...this.active };
    if (field.type === "attachment") return this.openFiles(row, field);
    this.editing = true;
    this.hideOptions();
    const value = row.fields[field.key];
    if (isPicked(field)) {
      // The editor becomes the picker's search box; what was typed (or nothing) is the first search.
      this.original = pickedIds(value).join(",");
      if (start === null) this.editor.value = "";
      this.editor.classList.add("editing");
      this.picker.show(field, pickedItems(value), isMultiple(field), this.sourceOf(field));
      this.render();
      return;
    }
    this.original = editText(field, value);
    // Enter, F2 or a double click on a date opens the browser's date (or date and time) picker; typing
    // keeps a text editor (so "2026-12-04 08:30" or a pasted date can be typed as is). Date-times are
    // typed in the field's or the organization's time zone, which the API reads them in.
    const picking = start === null && (field.type === "date" || field.type === "datetime");
    this.editor.type = picking ? (field.type === "date" ? "date" : "datetime-local") : "text";
    if (start === null) {
      this.editor.value = this.editor.type === "datetime-local" && typeof value === "string"
        ? localDateTime(value, zoneOf(field)).slice(0, 16).replace(" ", "T")
        : this.original;
      if (this.editor.type === "text") this.editor.select();
    }
    this.editor.classList.add("editing");
    if (field.type === "single_select" || field.type === "rating") this.showOptions(field);
    this.render();
  }

  // ---- attachment cells: a dialog of the cell's files (attachments.ts) -----------------------------

  private files: AttachmentEditor | null = null;

  /** The cell's file dialog; `dropped` files (dropped onto the cell) are uploaded and added at once. */
  private openFiles(row: Row, field: Field, dropped: File[] = []): void {
    this.editor.value = "";
    this.files ??= new AttachmentEditor();
    const heading = t("js-attachments-title", { field: field.name, row: this.active.row + 1 });
    this.files.open(field, heading, filesOf(row.fields[field.key]), (ids) => this.saveFiles(row, field, ids), () => {
      this.render();
      this.editor.focus();
    });
    if (dropped.length) void this.files.addFiles(dropped);
  }

  /** Writes a cell's file ids (after this person's earlier saves of the record, with If-Match). */
  private saveFiles(row: Row, field: Field, ids: string[]): Promise<Saved> {
    return new Promise((resolve) => {
      void this.queue(row.id, async () => {
        const before = row.fields[field.key];
        this.inFlight += 1;
        this.status();
        const outcome = await call<Row>("PATCH", this.recordsUrl(`/${encodeURIComponent(row.id)}`), { fields: { [field.key]: ids.length ? ids : null } }, {
          "if-match": `"${row.version}"`,
        });
        this.inFlight -= 1;
        this.status();
        if (outcome.ok) {
          Object.assign(row, outcome.body);
          this.undo.push({ record: row.id, key: field.key, before });
          this.render();
          resolve({ ok: true, files: filesOf(row.fields[field.key]) });
          return;
        }
        if (outcome.status === 401) toLogin();
        if (outcome.status === 409) {
          // Someone changed the record: their files are shown, and this person adds or removes again.
          const fresh = await call<Row>("GET", this.recordsUrl(`/${encodeURIComponent(row.id)}`));
          if (fresh.ok) {
            Object.assign(row, fresh.body);
            this.render();
            resolve({ ok: false, reason: reasonOf(outcome.error), files: filesOf(row.fields[field.key]) });
            return;
          }
        }
        resolve({ ok: false, reason: reasonOf(outcome.error) });
      });
    });
  }

  private cancelEdit(): void {
    this.editing = false;
    this.editor.value = "";
    this.editor.type = "text";
    this.hideOptions();
    this.picker.hide();
    this.hideReason();
    this.render();
  }

  private commit(then: "down" | "right" | "left" | "stay"): void {
    const field = this.fields[this.active.col];
    const row = this.rows[this.active.row];
    const text = this.editor.value;
    const picked = this.picker.open ? this.picker.value() : null;
    this.editing = false;
    this.editor.value = "";
    this.editor.type = "text";
    this.hideOptions();
    this.picker.hide();
    if (picked && row && this.canEdit(field)) {
      if (picked.map((item) => item.id).join(",") !== this.original) void this.savePicked(row, field, picked);
    } else if (row && this.canEdit(field) && (field.type === "datetime" ? text.replace("T", " ") : text) !== this.original) {
      void this.save(row, field, text);
    }
    if (then === "down") this.move(1, 0);
    else if (then === "right") this.move(0, 1);
    else if (then === "left") this.move(0, -1);
    else this.render();
  }

  private toggle(): void {
    const field = this.fields[this.active.col];
    const row = this.rows[this.active.row];
    if (!row || !this.canEdit(field)) return;
    void this.save(row, field, row.fields[field.key] === true ? "" : "true");
  }

  private showOptions(field: Field): void {
    this.listbox.replaceChildren();
    this.listbox.setAttribute("aria-label", field.name);
    // A choice field lists its choices; a rating lists 1 to max stars (typing the digit also works).
    const entries = field.type === "rating"
      ? Array.from({ length: ratingMax(field) }, (_, i) => ({
          value: String(i + 1), label: "★".repeat(i + 1), name: t("js-rating-value", { value: i + 1, max: ratingMax(field) }), color: "yellow",
        }))
      : choices(field).map((choice) => ({ value: choice.name, label: choice.name, name: choice.name, color: choice.color }));
    entries.forEach((entry, index) => {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = `${this.listbox.id}-${index}`;
      item.textContent = entry.label;
      item.dataset.value = entry.value;
      if (entry.name !== entry.label) item.setAttribute("aria-label", entry.name);
      item.className = field.type === "rating" ? "stars-option" : `chip chip-${entry.color}`;
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        this.pickOption(index);
        this.commit("stay");
      });
      this.listbox.append(item);
    });
    this.listbox.hidden = false;
    this.optionTouched = false;
    // While the list is open the editor is a combobox (the only role that may say it is expanded).
    this.editor.setAttribute("role", "combobox");
    this.editor.setAttribute("aria-autocomplete", "list");
    this.editor.setAttribute("aria-controls", this.listbox.id);
    this.editor.setAttribute("aria-expanded", "true");
    this.filterOptions();
  }

  private filterOptions(): void {
    if (this.listbox.hidden) return;
    const typed = this.editor.value.trim().toLowerCase();
    // The cell's own value, as the editor opens with it, lists every option with that one highlighted.
    const filtering = typed !== "" && typed !== this.original.toLowerCase();
    if (filtering) this.optionTouched = true;
    let first = -1;
    let own = -1;
    Array.from(this.listbox.children).forEach((item, index) => {
      const element = item as HTMLElement;
      const value = (element.dataset.value ?? "").toLowerCase();
      const match = !filtering || (element.textContent ?? "").toLowerCase().includes(typed) || value === typed;
      element.hidden = !match;
      if (match && first < 0) first = index;
      if (!filtering && typed !== "" && value === typed) own = index;
    });
    this.highlight(own >= 0 ? own : first);
  }

  private highlight(index: number): void {
    const items = Array.from(this.listbox.children) as HTMLElement[];
    let target = index;
    // Skip hidden options.
    for (let step = 0; step < items.length && target >= 0 && items[target]?.hidden; step++) {
      target = (target + 1) % items.length;
    }
    this.option = target;
    items.forEach((item, i) => item.setAttribute("aria-selected", String(i === target)));
    if (target >= 0) this.editor.setAttribute("aria-activedescendant", items[target].id);
    else this.editor.removeAttribute("aria-activedescendant");
  }

  private pickOption(index: number): void {
    const item = this.listbox.children[index] as HTMLElement | undefined;
    if (item) this.editor.value = item.dataset.value ?? item.textContent ?? "";
  }

  private hideOptions(): void {
    this.listbox.hidden = true;
    this.option = -1;
    this.editor.removeAttribute("aria-activedescendant");
    this.editor.removeAttribute("aria-controls");
    this.editor.removeAttribute("aria-expanded");
    if (!this.picker?.open) {
      this.editor.removeAttribute("role");
      this.editor.removeAttribute("aria-autocomplete");
    }
  }

  private showReason(text: string): void {
    this.reasonBox.textContent = text;
    this.reasonBox.hidden = false;
  }

  private hideReason(): void {
    this.reasonBox.hidden = true;
  }

  // ---- saving -------------------------------------------------------------------------------------

  private status(): void {
    const box = document.getElementById("save-status");
    if (!box) return;
    const unsaved = this.pending.length > 0 || this.inFlight > 0 || this.invalid.size > 0;
    box.textContent = t(unsaved ? "js-unsaved" : "js-saved");
    const note = document.getElementById("save-note");
    if (note) note.hidden = !(this.pending.length > 0 && this.inFlight === 0);
  }

  private loadPending(): Pending[] {
    try {
      return JSON.parse(localStorage.getItem(this.storageKey()) ?? "[]") as Pending[];
    } catch {
      return [];
    }
  }

  private storageKey(): string {
    return `tenon-pending:${this.schema.table}`;
  }

  private storePending(): void {
    if (this.pending.length) localStorage.setItem(this.storageKey(), JSON.stringify(this.pending));
    else localStorage.removeItem(this.storageKey());
    this.status();
  }

  private applyPending(): void {
    for (const edit of this.pending) {
      const row = this.rows.find((r) => r?.id === edit.record);
      if (row) row.fields[edit.key] = edit.shown ?? edit.value;
    }
  }

  private async save(row: Row, field: Field, text: string): Promise<void> {
    const value = toApi(field, text);
    const before = row.fields[field.key];
    this.undo.push({ record: row.id, key: field.key, before });
    // Shown at once; sent after this person's earlier saves of the record, on the version they returned.
    row.fields[field.key] = value;
    this.inFlight += 1;
    this.status();
    this.render();
    await this.queue(row.id, async () => {
      this.inFlight -= 1;
      await this.send(row, field, { record: row.id, key: field.key, value, text, version: row.version }, before);
    });
  }

  /** Saves a picker's choice: the API gets the ids, the cell shows the names meanwhile. */
  private async savePicked(row: Row, field: Field, items: Item[]): Promise<void> {
    const before = row.fields[field.key];
    const shown = field.type === "link" || isMultiple(field) ? items.map(({ id, name }) => ({ id, name })) : items[0] ? { id: items[0].id, name: items[0].name } : null;
    const value = pickedApiValue(field, items.map((item) => item.id));
    const text = items.map((item) => item.name).join(", ");
    this.undo.push({ record: row.id, key: field.key, before });
    row.fields[field.key] = shown;
    this.inFlight += 1;
    this.status();
    this.render();
    await this.queue(row.id, async () => {
      this.inFlight -= 1;
      await this.send(row, field, { record: row.id, key: field.key, value, text, version: row.version, shown }, before);
    });
  }

  private sourceOf(field: Field): Source {
    let source = this.sources.get(field.key);
    if (!source) {
      source = sourceFor(this.schema.app, field);
      this.sources.set(field.key, source);
    }
    return source;
  }

  private queue(record: string, work: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(record) ?? Promise.resolve()).then(work, work);
    this.chains.set(record, next);
    return next;
  }

  private async send(row: Row, field: Field, edit: Pending, before: unknown): Promise<void> {
    this.pending = this.pending.filter((p) => !(p.record === edit.record && p.key === edit.key));
    row.fields[field.key] = edit.shown ?? edit.value;
    this.invalid.delete(`${row.id}:${field.key}`);
    this.inFlight += 1;
    this.status();
    this.render();
    const headers: Record<string, string> = {};
    if (edit.version !== null) headers["if-match"] = `"${edit.version}"`;
    const outcome = await call<Row>("PATCH", this.recordsUrl(`/${encodeURIComponent(row.id)}`), { fields: { [field.key]: edit.value } }, headers);
    this.inFlight -= 1;
    if (outcome.ok) {
      Object.assign(row, outcome.body);
      this.storePending();
      this.render();
      return;
    }
    if (outcome.status === 401) {
      this.pending.push(edit);
      this.storePending();
      toLogin();
      return;
    }
    if (outcome.status === 0 || outcome.status >= 500) {
      // Kept and retried; the page says so, and leaving it warns.
      this.pending.push(edit);
      this.storePending();
      this.scheduleRetry();
      this.render();
      return;
    }
    if (outcome.status === 409 && outcome.error?.code === "conflict") {
      await this.conflict(row, field, edit);
      return;
    }
    // Refused (422 and the like): the typed text comes back into the editor with the reason.
    row.fields[field.key] = before;
    this.refused(row, field, edit, outcome.error);
  }

  private refused(row: Row, field: Field, edit: Pending, error: ApiError | null): void {
    const index = this.rows.indexOf(row);
    const col = this.fields.indexOf(field);
    const reason = error ? error.details.map(detailReason).join("; ") || errorMessage(error) : t("js-offline");
    this.invalid.set(`${row.id}:${field.key}`, reason);
    this.status();
    this.moveTo({ row: index, col });
    if (isPicked(field)) {
      // The refused choice comes back into the picker.
      this.editor.value = "";
      this.beginEdit(undefined);
      this.picker.setChosen(pickedItems(edit.shown));
    } else {
      this.beginEdit(undefined);
      this.editor.value = edit.text;
    }
    this.editor.setAttribute("aria-invalid", "true");
    this.showReason(t("js-error-field", { field: field.name, reason }));
    this.editor.focus();
    const clear = () => {
      this.editor.removeAttribute("aria-invalid");
      this.editor.removeEventListener("blur", clear);
    };
    this.editor.addEventListener("blur", clear);
  }

  private async conflict(row: Row, field: Field, edit: Pending): Promise<void> {
    const fresh = await call<Row>("GET", this.recordsUrl(`/${encodeURIComponent(row.id)}`));
    if (!fresh.ok) return;
    const theirs = fresh.body;
    const dialog = document.getElementById("conflict-dialog") as HTMLDialogElement | null;
    if (!dialog) return;
    dialog.querySelector(".conflict-field")!.textContent = field.name;
    dialog.querySelector(".conflict-theirs")!.textContent = display(field, theirs.fields[field.key]);
    dialog.querySelector(".conflict-mine")!.textContent = display(field, edit.value);
    const choice = await new Promise<string>((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
      // Esc closes without a value: the last choice must not count again.
      dialog.returnValue = "";
      dialog.showModal();
    });
    Object.assign(row, theirs);
    if (choice === "mine") {
      await this.send(row, field, { ...edit, version: theirs.version }, theirs.fields[field.key]);
    } else {
      this.render();
      this.status();
    }
    this.editor.focus();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, 3000);
  }

  private async flush(): Promise<void> {
    const edits = [...this.pending];
    for (const edit of edits) {
      let row = this.rows.find((r) => r?.id === edit.record);
      const field = this.fields.find((f) => f.key === edit.key);
      if (!field) continue;
      if (!row) {
        const fetched = await call<Row>("GET", this.recordsUrl(`/${encodeURIComponent(edit.record)}`));
        if (!fetched.ok) {
          if (fetched.status === 0 || fetched.status >= 500) this.scheduleRetry();
          continue;
        }
        row = fetched.body;
      }
      await this.send(row, field, edit, row.fields[field.key]);
    }
  }

  private async undoLast(): Promise<void> {
    const last = this.undo.pop();
    if (!last) return;
    const row = this.rows.find((r) => r?.id === last.record);
    const field = this.fields.find((f) => f.key === last.key);
    if (!row || !field) return;
    const files = field.type === "attachment" ? pickedIds(last.before) : [];
    const value = isPicked(field)
      ? pickedApiValue(field, pickedIds(last.before))
      : field.type === "attachment" ? (files.length ? files : null) : last.before ?? null;
    const edit = { record: row.id, key: field.key, value, text: editText(field, last.before), version: row.version, shown: last.before ?? null };
    await this.send(row, field, edit, row.fields[field.key]);
  }

  private async clearRange(): Promise<void> {
    const [r0, r1] = [Math.min(this.anchor.row, this.active.row), Math.max(this.anchor.row, this.active.row)];
    const [c0, c1] = [Math.min(this.anchor.col, this.active.col), Math.max(this.anchor.col, this.active.col)];
    for (let r = r0; r <= r1; r++) {
      const row = this.rows[r];
      if (!row) continue;
      for (let c = c0; c <= c1; c++) {
        const field = this.fields[c];
        if (this.canEdit(field) && row.fields[field.key] !== undefined && row.fields[field.key] !== null) {
          await this.save(row, field, "");
        }
      }
    }
  }

  private async newRecord(): Promise<void> {
    const outcome = await call<{ records?: Row[] } & Row>("POST", this.recordsUrl(), { records: [{ fields: {} }] }, {
      "idempotency-key": crypto.randomUUID(),
    });
    if (!outcome.ok) {
      if (outcome.status === 401) toLogin();
      else this.showReason(outcome.error ? errorMessage(outcome.error) : t("js-offline"));
      return;
    }
    const created = outcome.body.records ?? [outcome.body];
    // Everything before it is loaded first, so the new record is the last row.
    await this.loadUntil(this.total - 1);
    this.rows.push(...created);
    this.total = Math.max(this.total + created.length, this.rows.length);
    this.moveTo({ row: this.rows.length - 1, col: 0 });
    this.editor.focus();
  }

  // ---- clipboard ----------------------------------------------------------------------------------

  private onCopy(event: ClipboardEvent, cut: boolean): void {
    if (this.editing) return;
    event.preventDefault();
    const [r0, r1] = [Math.min(this.anchor.row, this.active.row), Math.max(this.anchor.row, this.active.row)];
    const [c0, c1] = [Math.min(this.anchor.col, this.active.col), Math.max(this.anchor.col, this.active.col)];
    const lines: string[][] = [];
    for (let r = r0; r <= r1; r++) {
      const row = this.rows[r];
      const line: string[] = [];
      for (let c = c0; c <= c1; c++) {
        const field = this.fields[c];
        line.push(row ? editText(field, row.fields[field.key]) : "");
      }
      lines.push(line);
    }
    event.clipboardData?.setData("text/plain", toTsv(lines));
    if (cut) void this.clearRange();
  }

  private async onPaste(event: ClipboardEvent): Promise<void> {
    if (this.editing) return;
    event.preventDefault();
    const text = event.clipboardData?.getData("text/plain") ?? "";
    const grid = parseTsv(text.replace(/\r?\n$/, ""));
    if (!grid.length) return;
    await this.loadUntil(Math.min(this.total, this.active.row + grid.length) - 1);
    const updates: { id: string; fields: Record<string, unknown> }[] = [];
    const creates: { fields: Record<string, unknown> }[] = [];
    grid.forEach((line, r) => {
      const fields: Record<string, unknown> = {};
      line.forEach((cell, c) => {
        const field = this.fields[this.active.col + c];
        // Files are not pasted as text (their cells take uploads).
        if (this.canEdit(field) && field.type !== "attachment") fields[field.key] = isPicked(field) ? pastedNames(field, cell) : toApi(field, cell);
      });
      const row = this.rows[this.active.row + r];
      if (row) updates.push({ id: row.id, fields });
      else creates.push({ fields });
    });
    this.inFlight += 1;
    this.status();
    const key = crypto.randomUUID();
    const problems: string[] = [];
    // Members, departments and linked records are pasted by name (as a copy gives them): the API's
    // typecast finds each by name, and refuses an unknown or ambiguous one naming the candidates.
    const width = grid[0]?.length ?? 1;
    const typecast = this.fields.slice(this.active.col, this.active.col + width).some((f) => isPicked(f)) ? "?typecast=true" : "";
    if (updates.length) {
      const outcome = await call<{ records: Row[] }>("PATCH", this.recordsUrl(typecast), { records: updates }, { "idempotency-key": key });
      if (outcome.ok) {
        for (const updated of outcome.body.records) {
          const index = this.rows.findIndex((r) => r?.id === updated.id);
          if (index >= 0) this.rows[index] = updated;
        }
      } else problems.push(this.pasteProblem(outcome.error, grid));
    }
    if (creates.length) {
      const outcome = await call<{ records: Row[] }>("POST", this.recordsUrl(typecast), { records: creates }, { "idempotency-key": `${key}-new` });
      if (outcome.ok) {
        await this.loadUntil(this.total - 1);
        this.rows.push(...outcome.body.records);
        this.total += outcome.body.records.length;
      } else problems.push(this.pasteProblem(outcome.error, grid));
    }
    this.inFlight -= 1;
    this.anchor = { ...this.active };
    this.active = {
      row: Math.min(this.total - 1, this.active.row + grid.length - 1),
      col: Math.min(this.fields.length - 1, this.active.col + (grid[0]?.length ?? 1) - 1),
    };
    this.status();
    this.render();
    if (problems.length) {
      // A refused paste writes nothing; its values stay on the clipboard and the reasons are shown.
      this.showReason(problems.join(" "));
    }
  }

  private pasteProblem(error: ApiError | null, _grid: string[][]): string {
    if (!error) return t("js-offline");
    const details = error.details.map((detail) => {
      const match = /^records\[(\d+)\]\.fields\.(.+)$/.exec(detail.field);
      const field = match ? this.fields.find((f) => f.key === match[2]) : undefined;
      const where = match ? `${Number(match[1]) + 1}·${field?.name ?? match[2]}` : detail.field;
      return t("js-error-field", { field: where, reason: detailReason(detail) });
    });
    return [errorMessage(error), ...details].join(" ");
  }
}

/** The table page's data block: the fields as the API shows them, and where to write. */
export function tableSchema(): Schema | null {
  const block = document.getElementById("table-schema");
  try {
    return block?.textContent ? (JSON.parse(block.textContent) as Schema) : null;
  } catch {
    return null;
  }
}

export function initGrid(root: HTMLElement): void {
  new Grid(root);
}

function ratingMax(field: Field): number {
  const max = Number(field.options.max ?? 5);
  return Number.isInteger(max) && max >= 1 && max <= 10 ? max : 5;
}


/** A pasted cell of a picked field: names (several separated by commas when the field holds a list). */
function pastedNames(field: Field, text: string): unknown {
  const names = text.split(/[,，、]/).map((name) => name.trim()).filter(Boolean);
  if (field.type === "link" || isMultiple(field)) return names;
  return names[0] ?? null;
}
