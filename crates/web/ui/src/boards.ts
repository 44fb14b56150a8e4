// The kanban, gallery and calendar views. The server renders what is visible (`board_part.html`); this
// island moves cards between columns and events between days through the records API with `If-Match`
// (a refused move puts the card back and says why), keeps a card's place within its column when the
// kanban is ordered by hand (`card_order.ts`), offers "Move to…" as the keyboard way of a drag,
// loads more cards, opens records in the record dialog, and reads the board again when the event stream
// says a record of the table changed.

import { call, toLogin } from "./api";
import { placesFor } from "./card_order";
import { errorMessage, detailReason, t, type ApiError } from "./i18n";
import { RecordDetail, type RecordRow } from "./record";
import { localDateTime, setTimeZone, zoneOf } from "./values";
import type { Schema } from "./grid";

interface Moved {
  ok: boolean;
  conflict: boolean;
  reason: string;
  /** The record's fields as written (when `ok`). */
  fields?: Record<string, unknown>;
}

export class Board {
  private root: HTMLElement;
  private body: HTMLElement;
  private note: HTMLElement;
  private kind: string;
  private detail: RecordDetail | null = null;
  /** Writes on their way: a refresh waits for them. */
  private writing = 0;
  private refreshTimer: number | undefined;
  private dragged: HTMLElement | null = null;
  /** A card pressed and not yet let go: a drag may be starting, so the board is not read again under it. */
  private pressed = false;

  constructor(root: HTMLElement, private schema: Schema) {
    this.root = root;
    this.body = root.querySelector(".board-body")!;
    this.note = root.querySelector(".board-status")!;
    this.kind = root.dataset.kind ?? "";
    setTimeZone(schema.time_zone);
    const dialog = document.getElementById("record-dialog");
    if (dialog instanceof HTMLDialogElement) {
      this.detail = new RecordDetail(dialog, schema.fields, (suffix) => this.recordsUrl(suffix), () => this.scheduleRefresh(0));
    }
    root.addEventListener("click", (event) => void this.onClick(event));
    root.addEventListener("keydown", (event) => this.onKey(event));
    this.bindMoveDate();
    this.bindDrag();
    this.listen();
  }

  private recordsUrl(suffix = ""): string {
    return `/api/v1/apps/${encodeURIComponent(this.schema.app)}/tables/${encodeURIComponent(this.schema.table)}/records${suffix}`;
  }

  private say(text: string): void {
    this.note.textContent = text;
  }

  private reasonOf(outcome: { error: ApiError | null }): string {
    if (!outcome.error) return t("js-offline");
    const details = outcome.error.details.map(detailReason).join("; ");
    return details || errorMessage(outcome.error);
  }

  // ---- clicks: open a record, move a card, new card, load more ----------------------------------------

  private async onClick(event: MouseEvent): Promise<void> {
    const target = event.target as HTMLElement | null;
    const action = target?.closest<HTMLElement>("[data-action], [data-more]");
    if (!action || !this.root.contains(action)) return;
    if (action.dataset.more !== undefined) return this.loadMore(action as HTMLButtonElement);
    const name = action.dataset.action;
    const card = action.closest<HTMLElement>("[data-record]");
    if (name === "open-record" && card) return this.openRecord(card.dataset.record ?? "", card);
    if (name === "move-card" && card) return this.offerMove(card, action as HTMLButtonElement);
    if (name === "move-event") return this.offerMoveDate(action as HTMLButtonElement);
    if (name === "new-card") return this.newCard(action.dataset.column, action.dataset.day);
  }

  private async openRecord(id: string, from: HTMLElement): Promise<void> {
    if (!this.detail || !id) return;
    const outcome = await call<RecordRow>("GET", this.recordsUrl(`/${encodeURIComponent(id)}`));
    if (!outcome.ok) {
      if (outcome.status === 401) return toLogin();
      this.say(this.reasonOf(outcome));
      return;
    }
    const title = from.getAttribute("aria-label") ?? from.textContent ?? "";
    this.detail.open(outcome.body, title.trim());
  }

  private columns(): HTMLElement[] {
    return Array.from(this.root.querySelectorAll<HTMLElement>("ul.cards"));
  }

  /** "Move to…": a dialog with one button per other column. */
  private offerMove(card: HTMLElement, opener: HTMLButtonElement): void {
    const dialog = document.getElementById("move-dialog");
    if (!(dialog instanceof HTMLDialogElement)) return;
    const name = card.getAttribute("aria-label") ?? "";
    dialog.querySelector("#move-heading")!.textContent = t("js-move-to-title", { name });
    const targets = dialog.querySelector<HTMLElement>(".move-targets")!;
    targets.replaceChildren();
    const from = card.closest<HTMLElement>("ul.cards");
    // Ordered by hand: Move up and Move down within the column.
    for (const button of Array.from(dialog.querySelectorAll<HTMLButtonElement>(".move-order button[data-order]"))) {
      const up = button.dataset.order === "up";
      button.disabled = !(up ? card.previousElementSibling : card.nextElementSibling?.matches("li.board-card"));
      button.onclick = () => {
        dialog.close();
        void this.step(card, up ? -1 : 1).then(() => this.focusCard(card, opener));
      };
    }
    for (const column of this.columns()) {
      if (column === from) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "move-target";
      button.textContent = column.getAttribute("aria-label") ?? "";
      button.addEventListener("click", () => {
        dialog.close();
        // Focus follows the card to its new column.
        void this.moveCard(card, column).then(() => this.focusCard(card, opener));
      });
      targets.append(button);
    }
    dialog.showModal();
    dialog.querySelector<HTMLButtonElement>("button[data-order]:not(:disabled), .move-targets button")?.focus();
  }

  private focusCard(card: HTMLElement, otherwise: HTMLElement): void {
    const moved = this.root.querySelector<HTMLElement>(`[data-record="${CSS.escape(card.dataset.record ?? "")}"] [data-action=move-card]`);
    (moved ?? otherwise).focus();
  }

  /** Whether cards keep the places they are put in within a column (a kanban ordered by hand). */
  private ordered(): boolean {
    return this.kind === "kanban" && Boolean(this.root.dataset.orderField);
  }

  /** Moves a card one place up (-1) or down (1) in its column. */
  private async step(card: HTMLElement, by: -1 | 1): Promise<void> {
    const column = card.parentElement;
    if (!column || !this.ordered()) return;
    const before = by < 0 ? card.previousElementSibling : card.nextElementSibling?.nextElementSibling ?? null;
    if (by < 0 && !before) return;
    if (by > 0 && !card.nextElementSibling?.matches("li.board-card")) return;
    await this.moveCard(card, column, before);
  }

  private count(column: HTMLElement, by: number): void {
    const section = column.closest("section.column");
    const badge = section?.querySelector<HTMLElement>(".count");
    if (!badge) return;
    const total = Math.max(0, Number(badge.dataset.total ?? "0") + by);
    badge.dataset.total = String(total);
    badge.textContent = String(total);
  }

  /**
   * Moves a card to `column` at once (before `before`; at the top when the kanban is not ordered by hand)
   * and writes the record; a refused write puts it back. Ordered by hand, the card's place is written
   * with it, and the column's other places when it had to be numbered again.
   */
  private async moveCard(card: HTMLElement, column: HTMLElement, before: Element | null = null): Promise<void> {
    const from = card.parentElement as HTMLElement | null;
    const ordered = this.ordered();
    if (!from || (from === column && (!ordered || before === card || before === card.nextElementSibling))) return;
    const next = card.nextElementSibling;
    const name = card.getAttribute("aria-label") ?? "";
    const columnName = column.getAttribute("aria-label") ?? "";
    if (ordered) column.insertBefore(card, before);
    else column.prepend(card);
    if (from !== column) {
      this.count(from, -1);
      this.count(column, 1);
    }
    const fields: Record<string, unknown> = {};
    if (from !== column) {
      const group = this.root.dataset.groupField ?? "";
      fields[group] = column.dataset.none ? null : (column.dataset.choice ?? null);
    }
    const orderKey = this.root.dataset.orderField ?? "";
    const cards = Array.from(column.querySelectorAll<HTMLElement>(":scope > li.board-card"));
    const others: [HTMLElement, string][] = [];
    if (ordered) {
      const precision = Number(this.root.dataset.orderPrecision ?? "0");
      const places = placesFor(cards.map((node) => node.dataset.rank ?? ""), cards.indexOf(card), precision);
      for (const [i, value] of places) {
        if (cards[i] === card) fields[orderKey] = value;
        else others.push([cards[i], value]);
      }
    }
    const result: Moved = Object.keys(fields).length ? await this.write(card, fields) : { ok: true, conflict: false, reason: "" };
    if (result.ok) {
      if (orderKey in fields) card.dataset.rank = String(result.fields?.[orderKey] ?? fields[orderKey]);
      // The column numbered again: each other card whose place changed (a refused one reads the board again).
      for (const [other, value] of others) {
        const placed = await this.write(other, { [orderKey]: value });
        if (!placed.ok) {
          this.scheduleRefresh(0);
          break;
        }
        other.dataset.rank = String(placed.fields?.[orderKey] ?? value);
      }
      const position = Array.from(column.querySelectorAll(":scope > li.board-card")).indexOf(card) + 1;
      this.say(ordered ? t("js-card-placed", { name, column: columnName, position }) : t("js-moved", { name, column: columnName }));
      return;
    }
    // Back where it was.
    if (next && next.parentElement === from) from.insertBefore(card, next);
    else from.append(card);
    if (from !== column) {
      this.count(column, -1);
      this.count(from, 1);
    }
    if (result.conflict) {
      this.say(t("js-move-conflict", { name }));
      this.scheduleRefresh(0);
    } else {
      this.say(t("js-move-failed", { name, reason: result.reason }));
    }
  }

  /** PATCHes the record of `card` (or an event) on the version it was shown with. */
  private async write(node: HTMLElement, fields: Record<string, unknown>): Promise<Moved> {
    const id = node.dataset.record ?? "";
    this.writing += 1;
    const outcome = await call<RecordRow>("PATCH", this.recordsUrl(`/${encodeURIComponent(id)}`), { fields }, {
      "if-match": `"${node.dataset.version ?? ""}"`,
    });
    this.writing -= 1;
    if (outcome.ok) {
      node.dataset.version = String(outcome.body.version);
      return { ok: true, conflict: false, reason: "", fields: outcome.body.fields as Record<string, unknown> };
    }
    if (outcome.status === 401) toLogin();
    return { ok: false, conflict: outcome.status === 409 || outcome.status === 412, reason: this.reasonOf(outcome) };
  }

  /** A new record: in a kanban column, or on a calendar day (its "+"; else the default day below). */
  private async newCard(columnIndex: string | undefined, onDay?: string): Promise<void> {
    const fields: Record<string, unknown> = {};
    const group = this.root.dataset.groupField;
    if (group && columnIndex !== undefined) {
      const column = this.root.querySelector<HTMLElement>(`ul.cards[data-column="${CSS.escape(columnIndex)}"]`);
      if (column && !column.dataset.none) fields[group] = column.dataset.choice ?? null;
    }
    // On a calendar: the day whose "+" was pressed; from the toolbar, today when it is shown, else the
    // period's first day (a date-time at 09:00 local).
    const dateField = this.root.dataset.dateField;
    const day = onDay ?? this.root.dataset.newDate;
    if (this.kind === "calendar" && dateField && day) {
      fields[dateField] = this.root.dataset.dateKind === "datetime" ? `${day}T09:00` : day;
    }
    this.writing += 1;
    const outcome = await call<RecordRow>("POST", this.recordsUrl(), { fields });
    this.writing -= 1;
    if (!outcome.ok) {
      if (outcome.status === 401) return toLogin();
      this.say(this.reasonOf(outcome));
      return;
    }
    await this.refresh();
    // The new record opens at once so it can be named.
    this.detail?.open(outcome.body, t("js-new-card-title"));
  }

  private async loadMore(button: HTMLButtonElement): Promise<void> {
    const query = new URLSearchParams({ offset: button.dataset.more ?? "0" });
    if (button.dataset.column !== undefined) query.set("column", button.dataset.column);
    button.disabled = true;
    const html = await this.fetchPart(query);
    button.disabled = false;
    if (html === null) return;
    const list =
      button.dataset.column !== undefined
        ? this.root.querySelector<HTMLElement>(`ul.cards[data-column="${CSS.escape(button.dataset.column)}"]`)
        : this.root.querySelector<HTMLElement>("ul.gallery");
    if (!list) return;
    const holder = document.createElement("template");
    holder.innerHTML = html;
    const marker = holder.content.querySelector<HTMLElement>(".more-next");
    marker?.remove();
    list.append(holder.content);
    if (marker?.dataset.more) button.dataset.more = marker.dataset.more;
    else button.remove();
  }

  private async fetchPart(query: URLSearchParams): Promise<string | null> {
    const here = new URLSearchParams(location.search);
    for (const name of ["date", "mode"]) {
      const value = here.get(name);
      if (value && !query.has(name)) query.set(name, value);
    }
    let response: Response;
    try {
      response = await fetch(`${this.root.dataset.part}?${query.toString()}`, { credentials: "same-origin" });
    } catch {
      this.say(t("js-offline"));
      return null;
    }
    if (response.status === 401) {
      toLogin();
      return null;
    }
    if (!response.ok) return null;
    return response.text();
  }

  // ---- moving an event without a mouse -----------------------------------------------------------------

  /** The event's own button (what moves and opens), from any control of its list item. */
  private eventOf(node: HTMLElement): HTMLElement | null {
    return node.closest("li")?.querySelector<HTMLElement>("button.event") ?? null;
  }

  /** Alt+←/→ moves a focused event by a day, Alt+↑/↓ by a week; Alt+↑/↓ on a hand-ordered card, a place. */
  private onKey(event: KeyboardEvent): void {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    if (this.ordered() && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      const card = (event.target as HTMLElement | null)?.closest<HTMLElement>("li.board-card[draggable=true]");
      if (!card) return;
      event.preventDefault();
      const control = event.target as HTMLElement;
      void this.step(card, event.key === "ArrowUp" ? -1 : 1).then(() => (control.isConnected ? control.focus() : this.focusCard(card, control)));
      return;
    }
    if (this.kind !== "calendar") return;
    const target = event.target as HTMLElement | null;
    if (!target?.matches("button.event") || target.getAttribute("draggable") !== "true") return;
    const by: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
    const days = by[event.key];
    if (!days) return;
    event.preventDefault();
    const to = shift(target.dataset.day ?? "", days);
    if (to) void this.moveEvent(target, to, true);
  }

  private bindMoveDate(): void {
    const dialog = document.getElementById("move-date-dialog");
    if (!(dialog instanceof HTMLDialogElement)) return;
    const form = dialog.querySelector("form")!;
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      const input = form.querySelector<HTMLInputElement>("input[type=date]")!;
      const error = form.querySelector<HTMLElement>(".form-error")!;
      const event = this.movingDate;
      if (!/^\d{4}-\d\d-\d\d$/.test(input.value)) {
        error.textContent = t("js-move-date-invalid");
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      dialog.close();
      if (event) void this.moveEvent(event, input.value, true);
    });
  }

  private movingDate: HTMLElement | null = null;

  /** "Move to date…": a dialog with a date input, on the event's day. */
  private offerMoveDate(opener: HTMLButtonElement): void {
    const dialog = document.getElementById("move-date-dialog");
    const event = this.eventOf(opener);
    if (!(dialog instanceof HTMLDialogElement) || !event) return;
    this.movingDate = event;
    dialog.querySelector("#move-date-heading")!.textContent = t("js-move-date-title", { name: this.eventName(event) });
    const input = dialog.querySelector<HTMLInputElement>("input[type=date]")!;
    input.value = event.dataset.day ?? "";
    input.removeAttribute("aria-invalid");
    const error = dialog.querySelector<HTMLElement>(".form-error")!;
    error.hidden = true;
    dialog.showModal();
    input.focus();
  }

  // ---- dragging ------------------------------------------------------------------------------------

  private bindDrag(): void {
    // A drag begins only when the pointer moves with the button down: a board read again in between
    // would take the pressed card away and the browser would start no drag.
    this.root.addEventListener("pointerdown", (event) => {
      if ((event.target as HTMLElement | null)?.closest("[draggable=true]")) this.pressed = true;
    });
    const letGo = () => {
      this.pressed = false;
    };
    window.addEventListener("pointerup", letGo);
    window.addEventListener("pointercancel", letGo);
    this.root.addEventListener("dragstart", (event) => {
      const node = (event.target as HTMLElement | null)?.closest<HTMLElement>("[draggable=true]");
      if (!node) return;
      this.dragged = node;
      node.classList.add("dragging");
      event.dataTransfer?.setData("text/plain", node.dataset.record ?? "");
      if (event.dataTransfer) event.dataTransfer.effectAllowed = "move";
    });
    const clearMarks = () =>
      this.root.querySelectorAll(".drop-here, .drop-before, .drop-after").forEach((node) => node.classList.remove("drop-here", "drop-before", "drop-after"));
    this.root.addEventListener("dragend", () => {
      this.pressed = false;
      this.dragged?.classList.remove("dragging");
      this.dragged = null;
      clearMarks();
    });
    // Ordered by hand: the card under the pointer, and whether the drop goes above or below it.
    const placeOf = (event: DragEvent): { over: HTMLElement; above: boolean } | null => {
      if (!this.ordered()) return null;
      const over = (event.target as HTMLElement | null)?.closest<HTMLElement>("li.board-card");
      if (!over || over === this.dragged) return null;
      const box = over.getBoundingClientRect();
      return { over, above: event.clientY < box.top + box.height / 2 };
    };
    const targetOf = (event: DragEvent): HTMLElement | null => {
      const node = event.target as HTMLElement | null;
      if (this.kind === "kanban") return node?.closest<HTMLElement>("section.column")?.querySelector<HTMLElement>("ul.cards") ?? null;
      if (this.kind === "calendar") return node?.closest<HTMLElement>("td[data-date]") ?? null;
      return null;
    };
    this.root.addEventListener("dragover", (event) => {
      if (!this.dragged) return;
      const target = targetOf(event);
      if (!target) return;
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "move";
      this.root.querySelectorAll(".drop-here").forEach((node) => node !== target && node.classList.remove("drop-here"));
      target.classList.add("drop-here");
      this.root.querySelectorAll(".drop-before, .drop-after").forEach((node) => node.classList.remove("drop-before", "drop-after"));
      const place = placeOf(event);
      place?.over.classList.add(place.above ? "drop-before" : "drop-after");
    });
    this.root.addEventListener("drop", (event) => {
      const dragged = this.dragged;
      const target = targetOf(event);
      if (!dragged || !target) return;
      event.preventDefault();
      const place = placeOf(event);
      clearMarks();
      // Dropped back on itself: it stays. Ordered by hand, a drop on no card goes to the end of the column.
      if ((event.target as HTMLElement | null)?.closest("li.board-card") === dragged) return;
      const before = place ? (place.above ? place.over : place.over.nextElementSibling) : null;
      if (this.kind === "kanban") void this.moveCard(dragged, target, before);
      else if (this.kind === "calendar") void this.moveEvent(dragged, target.dataset.date ?? "");
    });
  }

  /** The title of an event (its button's text; the end's edge sits beside the button). */
  private eventName(node: HTMLElement): string {
    const button = node.matches("button") ? node : node.closest("li")?.querySelector("button.event");
    return button?.textContent?.trim() ?? "";
  }

  /** A calendar event dropped on another day: its start (and end) move by as many days. */
  private async moveEvent(event: HTMLElement, day: string, keyboard = false): Promise<void> {
    const from = event.dataset.day ?? "";
    const days = Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000);
    if (!day || !from || !days) return;
    const name = this.eventName(event);
    const startKey = this.root.dataset.dateField ?? "";
    const endKey = this.root.dataset.endDateField ?? "";
    // Date-times keep their wall-clock time in their zone (a day across a daylight-saving change is
    // not 24 hours); dates are days and never shift.
    const zone = (key: string) => {
      const field = this.schema.fields.find((candidate) => candidate.key === key);
      return field ? zoneOf(field) : undefined;
    };
    const fields: Record<string, unknown> = {};
    if (event.dataset.edge === "end") {
      // The end's edge: only the end moves, never before the start.
      const end = shift(event.dataset.end ?? "", days, zone(endKey));
      if (!endKey || end === null || Date.parse(end) < Date.parse(event.dataset.start ?? "")) return;
      fields[endKey] = end;
      const result = await this.write(event, fields);
      this.say(result.ok ? t("js-event-end-moved", { name: this.eventName(event), date: day }) : result.conflict ? t("js-move-conflict", { name: this.eventName(event) }) : t("js-move-failed", { name: this.eventName(event), reason: result.reason }));
      this.scheduleRefresh(0);
      return;
    }
    const start = shift(event.dataset.start ?? "", days, zone(startKey));
    if (start === null) return;
    fields[startKey] = start;
    if (endKey && event.dataset.end) {
      const end = shift(event.dataset.end, days, zone(endKey));
      if (end !== null) fields[endKey] = end;
    }
    // Shown on the new day at once.
    const cell = this.root.querySelector<HTMLElement>(`td[data-date="${CSS.escape(day)}"]`);
    const item = event.closest("li");
    const home = item?.parentElement ?? null;
    if (cell && item) {
      let list = cell.querySelector<HTMLElement>("ul.events");
      if (!list) {
        list = document.createElement("ul");
        list.className = "events";
        list.setAttribute("role", "list");
        list.setAttribute("aria-label", day);
        cell.querySelector(".day-head")?.after(list);
      }
      list.append(item);
    }
    // Focus stays on the event it moved (taking it out of its day took the focus away).
    if (keyboard) event.focus();
    const result = await this.write(event, fields);
    if (result.ok) {
      // The event now stands for its new dates (a next move starts there, before the board is read again).
      const text = (key: string) => (typeof result.fields?.[key] === "string" ? (result.fields[key] as string) : null);
      event.dataset.day = day;
      event.dataset.start = text(startKey) ?? event.dataset.start;
      if (endKey && event.dataset.end) event.dataset.end = text(endKey) ?? event.dataset.end;
      this.say(t("js-event-moved", { name, date: day }));
      this.scheduleRefresh(0);
      return;
    }
    if (home && item) home.append(item);
    if (keyboard) event.focus();
    this.say(result.conflict ? t("js-move-conflict", { name }) : t("js-move-failed", { name, reason: result.reason }));
    this.scheduleRefresh(0);
  }

  // ---- live updates ---------------------------------------------------------------------------------

  private listen(): void {
    if (typeof EventSource === "undefined") return;
    const source = new EventSource("/api/v1/events/stream?types=record.*");
    const onEvent = (event: MessageEvent) => {
      let envelope: { subject?: { table_id?: string } };
      try {
        envelope = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (envelope.subject?.table_id !== this.schema.table) return;
      this.scheduleRefresh(150);
    };
    for (const type of ["record.created", "record.updated", "record.deleted"]) source.addEventListener(type, onEvent);
    window.addEventListener("pagehide", () => source.close());
  }

  private scheduleRefresh(delay: number): void {
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.refresh(), delay);
  }

  /** Reads the board again, unless a write is on its way, a card is pressed or dragged or a dialog is open. */
  private async refresh(): Promise<void> {
    const busy = this.writing > 0 || this.pressed || this.dragged !== null || document.querySelector("dialog[open]") !== null;
    if (busy) {
      this.scheduleRefresh(400);
      return;
    }
    const html = await this.fetchPart(new URLSearchParams());
    if (html === null || this.writing > 0 || this.pressed || this.dragged !== null) {
      if (html !== null) this.scheduleRefresh(400);
      return;
    }
    // Focus stays on the same card's same control.
    const active = document.activeElement as HTMLElement | null;
    const inside = active !== null && this.body.contains(active);
    const record = inside ? active.closest<HTMLElement>("[data-record]")?.dataset.record : undefined;
    const action = active?.dataset.action;
    this.body.innerHTML = html;
    if (record) {
      const same = action ? this.body.querySelector<HTMLElement>(`[data-record="${CSS.escape(record)}"][data-action="${CSS.escape(action)}"]`) : null;
      const card = this.body.querySelector<HTMLElement>(`[data-record="${CSS.escape(record)}"]`);
      const control = same ?? (card && action && card.dataset.action !== action ? card.querySelector<HTMLElement>(`[data-action="${CSS.escape(action)}"]`) : card);
      control?.focus();
    }
  }
}

/**
 * A date (`2026-12-05`) moved by whole days; an instant (RFC 3339) moved by whole days of the calendar
 * in `zone`, keeping its wall-clock time there (sent as a local date-time, which the API reads in the
 * field's zone); `null` for anything else.
 */
export function shift(value: string, days: number, zone?: string): string | null {
  if (/^\d{4}-\d\d-\d\d$/.test(value)) {
    const date = new Date(`${value}T00:00:00Z`);
    date.setUTCDate(date.getUTCDate() + days);
    return date.toISOString().slice(0, 10);
  }
  if (Number.isNaN(Date.parse(value))) return null;
  const local = localDateTime(value, zone);
  const [day, time] = local.split(" ");
  const moved = day && time ? shift(day, days) : null;
  if (moved === null) return new Date(Date.parse(value) + days * 86400000).toISOString().replace(".000Z", "Z");
  return `${moved}T${time}`;
}

export function initBoard(root: HTMLElement, schema: Schema | null): void {
  if (schema) new Board(root, schema);
}
