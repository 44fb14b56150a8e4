// The picker: a searchable popup under a member, department or link cell. The grid's own editor <input>
// is the search box (so an input method composes in it as in any cell, and the grid's composition guard
// applies); the popup lists the chosen items (each with a remove button) and the matches. Keyboard:
// arrows move through the matches, Enter picks the highlighted one (a single value: and saves; a list:
// adds or removes it, and Enter again saves), Backspace in an empty search removes the last chosen,
// Tab saves and moves on, Esc cancels. Screen readers get a listbox named by the field, the highlighted
// match as the editor's active descendant, and a polite status line (searching, no matches, N chosen).

import { call } from "./api";
import { t } from "./i18n";
import { display, type Field } from "./values";

export interface Item {
  id: string;
  name: string;
  /** A second line: an e-mail, a department's path. */
  hint?: string;
}

export type Source = (query: string) => Promise<Item[]>;

const SHOWN = 50;

export class Picker {
  readonly box: HTMLDivElement;
  private chosenList: HTMLUListElement;
  private list: HTMLUListElement;
  private note: HTMLParagraphElement;
  private keys: HTMLParagraphElement;
  private drop: HTMLDivElement | null = null;
  private items: Item[] = [];
  private chosen: Item[] = [];
  private multiple = false;
  private current = -1;
  private source: Source | null = null;
  private searches = 0;
  private timer: number | undefined;
  /** A search is on its way; an Enter pressed meanwhile applies to its results. */
  private searching = false;
  private enterWaiting = false;
  open = false;

  constructor(
    private editor: HTMLInputElement,
    private id: string,
    /** The choice is made (a single value picked, or Enter on a list): the grid saves it and moves on. */
    private onDone: (then: "down" | "stay") => void,
    /** In a form (the record detail) the chosen items stay in view under their input while the matches
     * are closed, and their remove buttons are in the tab order. */
    private inline = false,
  ) {
    this.box = document.createElement("div");
    this.box.className = inline ? "picker inline" : "picker";
    this.box.hidden = !inline;
    this.chosenList = document.createElement("ul");
    this.chosenList.className = "picker-chosen";
    this.list = document.createElement("ul");
    this.list.className = "picker-options";
    this.list.id = `${id}-list`;
    this.list.setAttribute("role", "listbox");
    this.note = document.createElement("p");
    this.note.className = "picker-note";
    this.note.setAttribute("role", "status");
    const keys = document.createElement("p");
    keys.className = "picker-keys hint";
    keys.dataset.keys = "";
    this.keys = keys;
    if (inline) {
      // The matches drop down over what follows (opening or closing them never moves a button that is
      // being clicked); the chosen items stay in the flow under the input.
      this.drop = document.createElement("div");
      this.drop.className = "picker-drop";
      this.drop.append(this.list, this.note, keys);
      this.box.append(this.chosenList, this.drop);
      this.closeMatches(true);
    } else {
      this.box.append(this.chosenList, this.list, this.note, keys);
    }
    // The focus stays in the editor: clicks in the popup never take it.
    this.box.addEventListener("mousedown", (event) => event.preventDefault());
  }

  show(field: Field, chosen: Item[], multiple: boolean, source: Source): void {
    this.open = true;
    this.multiple = multiple;
    this.chosen = [...chosen];
    this.source = source;
    this.items = [];
    this.current = -1;
    this.list.setAttribute("aria-label", field.name);
    this.list.setAttribute("aria-multiselectable", String(multiple));
    this.keys.textContent = t(this.inline ? "js-picker-keys-form" : multiple ? "js-picker-keys-multiple" : "js-picker-keys-single");
    this.box.hidden = false;
    this.closeMatches(false);
    this.editor.setAttribute("role", "combobox");
    this.editor.setAttribute("aria-autocomplete", "list");
    this.editor.setAttribute("aria-controls", this.list.id);
    this.editor.setAttribute("aria-expanded", "true");
    this.renderChosen();
    this.search(this.editor.value, 0);
  }

  /** Hides or shows the matches, the status line and the key hint (not the chosen items). */
  private closeMatches(closed: boolean): void {
    if (this.drop) this.drop.hidden = closed;
    this.list.hidden = closed;
    this.note.hidden = closed;
    this.keys.hidden = closed;
  }

  /** An inline picker's chosen items before it is first opened (a record's current links). */
  preset(field: Field, chosen: Item[], multiple: boolean): void {
    this.multiple = multiple;
    this.chosen = [...chosen];
    this.list.setAttribute("aria-label", field.name);
    this.renderChosen();
  }

  hide(): void {
    this.open = false;
    if (this.inline) this.closeMatches(true);
    else this.box.hidden = true;
    this.searches += 1;
    this.searching = false;
    this.enterWaiting = false;
    window.clearTimeout(this.timer);
    for (const name of ["role", "aria-autocomplete", "aria-controls", "aria-expanded", "aria-activedescendant"]) {
      this.editor.removeAttribute(name);
    }
  }

  place(left: number, top: number, width: number): void {
    this.box.style.left = `${left}px`;
    this.box.style.top = `${top}px`;
    this.box.style.minWidth = `${Math.max(width, 240)}px`;
  }

  /** The chosen items, in the order chosen. */
  value(): Item[] {
    return [...this.chosen];
  }

  setChosen(items: Item[]): void {
    this.chosen = [...items];
    this.renderChosen();
    this.renderList();
  }

  /** Searches again for what is typed (after a short pause, so fast typing sends one request). */
  search(query: string, delay = 150): void {
    if (!this.open || !this.source) return;
    window.clearTimeout(this.timer);
    this.searching = true;
    // Counted when asked, not when sent: an answer to an earlier search that arrives while this one
    // waits out its pause is stale, and must neither end the search nor take a waiting Enter.
    const mine = ++this.searches;
    const run = async () => {
      this.note.textContent = t("js-picker-searching");
      const found = await this.source!(query.trim()).catch(() => null);
      if (mine !== this.searches || !this.open) return;
      if (found === null) {
        this.items = [];
        this.note.textContent = t("js-offline");
      } else {
        this.items = found.slice(0, SHOWN);
        this.note.textContent = found.length ? this.chosenText() : t("js-picker-none");
      }
      // Typing narrows the list: the first match is the one Enter takes.
      this.current = query.trim() && this.items.length ? 0 : -1;
      this.searching = false;
      this.renderList();
      if (this.enterWaiting) {
        // Enter was pressed before the matches for what was typed arrived: it applies to them now.
        this.enterWaiting = false;
        if (this.enter() === "done") this.onDone("down");
      }
    };
    if (delay) this.timer = window.setTimeout(() => void run(), delay);
    else void run();
  }

  /** Handles a key of the open picker; true when it was the picker's. */
  key(event: KeyboardEvent): "done" | "handled" | null {
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp": {
        event.preventDefault();
        const count = this.items.length;
        if (!count) return "handled";
        const step = event.key === "ArrowDown" ? 1 : -1;
        this.current = this.current < 0 ? (step > 0 ? 0 : count - 1) : (this.current + step + count) % count;
        this.renderList();
        return "handled";
      }
      case "Enter":
        event.preventDefault();
        if (this.searching) {
          this.enterWaiting = true;
          return "handled";
        }
        return this.enter();
      case "Tab":
        if (this.current >= 0 && this.items[this.current] && this.editor.value.trim()) this.toggle(this.items[this.current]);
        return null;
      case "Backspace":
        if (this.editor.value === "" && this.chosen.length) {
          event.preventDefault();
          this.remove(this.chosen[this.chosen.length - 1]);
          return "handled";
        }
        return null;
    }
    return null;
  }

  /** Enter: takes the highlighted match (a single value: done; a list: add or remove it), else done. */
  private enter(): "done" | "handled" {
    if (this.current >= 0 && this.items[this.current]) {
      this.toggle(this.items[this.current]);
      // In a form each pick closes the matches (typing opens them again), so they never cover the form.
      if (!this.multiple || this.inline) return "done";
      this.editor.value = "";
      this.search("", 0);
      return "handled";
    }
    return "done";
  }

  private toggle(item: Item): void {
    if (!this.multiple) {
      this.chosen = [item];
    } else if (this.chosen.some((c) => c.id === item.id)) {
      this.chosen = this.chosen.filter((c) => c.id !== item.id);
    } else {
      this.chosen.push(item);
    }
    this.renderChosen();
    this.renderList();
  }

  private remove(item: Item): void {
    this.chosen = this.chosen.filter((c) => c.id !== item.id);
    this.renderChosen();
    this.renderList();
  }

  private chosenText(): string {
    return this.chosen.length ? t("js-picker-chosen", { names: this.chosen.map((c) => c.name).join(", ") }) : "";
  }

  private renderChosen(): void {
    this.chosenList.replaceChildren();
    this.chosenList.hidden = this.chosen.length === 0;
    for (const item of this.chosen) {
      const li = document.createElement("li");
      li.className = "chip chip-blue";
      li.dataset.userContent = "";
      const name = document.createElement("span");
      name.textContent = item.name;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.tabIndex = this.inline ? 0 : -1;
      remove.className = "chip-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", t("js-picker-remove", { name: item.name }));
      remove.addEventListener("click", () => {
        this.remove(item);
        // In a form the focus goes back to the search box (the button is gone).
        if (this.inline) this.editor.focus();
      });
      li.append(name, remove);
      this.chosenList.append(li);
    }
    if (this.open && this.items.length) this.note.textContent = this.chosenText();
  }

  private renderList(): void {
    this.list.replaceChildren();
    this.items.forEach((item, index) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = `${this.id}-option-${index}`;
      li.dataset.userContent = "";
      const picked = this.chosen.some((c) => c.id === item.id);
      li.setAttribute("aria-selected", String(this.multiple ? picked : index === this.current));
      li.classList.toggle("current", index === this.current);
      li.classList.toggle("picked", picked);
      const name = document.createElement("span");
      name.className = "picker-name";
      name.textContent = item.name;
      li.append(name);
      if (item.hint) {
        const hint = document.createElement("span");
        hint.className = "picker-hint";
        hint.textContent = item.hint;
        li.append(hint);
      }
      li.addEventListener("click", () => {
        this.current = index;
        this.toggle(item);
        if (!this.multiple || this.inline) this.onDone("stay");
      });
      this.list.append(li);
    });
    const active = this.current >= 0 ? this.list.children[this.current] : null;
    if (active) {
      this.editor.setAttribute("aria-activedescendant", active.id);
      active.scrollIntoView({ block: "nearest" });
    } else {
      this.editor.removeAttribute("aria-activedescendant");
    }
  }
}

/** A picked value (`{id, name}` objects, one or a list) as picker items. */
export function pickedItems(value: unknown): Item[] {
  const list = Array.isArray(value) ? value : value == null ? [] : [value];
  return list
    .filter((item): item is { id: unknown; name?: unknown } => !!item && typeof item === "object" && "id" in item)
    .map((item) => ({ id: String(item.id), name: String(item.name ?? item.id) }));
}

/** Where a picked field's items come from: members, departments, or the linked table's records. */
export function sourceFor(app: string, field: Field): Source {
  return field.type === "member" ? memberSource() : field.type === "department" ? departmentSource() : linkSource(app, field);
}

// ---- sources: where a picker's items come from -----------------------------------------------------

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Every page of a small list (an organization's departments), read once per grid. */
async function all<T>(url: string): Promise<T[]> {
  const found: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page++) {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const outcome = await call<Page<T>>("GET", `${url}${url.includes("?") ? "&" : "?"}page_size=1000${query}`);
    if (!outcome.ok) throw new Error(String(outcome.status));
    found.push(...outcome.body.items);
    cursor = outcome.body.next_cursor;
    if (!cursor) break;
  }
  return found;
}

function matches(query: string, ...texts: (string | null | undefined)[]): boolean {
  const wanted = query.toLowerCase();
  return !wanted || texts.some((text) => (text ?? "").toLowerCase().includes(wanted));
}

/** Active members, searched by the server (name, e-mail or mobile) a page at a time: an organization of
 * thousands never loads whole into the page. The picker waits out a pause in typing before asking. */
export function memberSource(): Source {
  return async (query) => {
    const params = new URLSearchParams({ status: "active", page_size: String(SHOWN) });
    if (query) params.set("q", query);
    const outcome = await call<Page<{ id: string; name: string; email: string | null; job_title: string | null }>>("GET", `/api/v1/members?${params}`);
    if (!outcome.ok) throw new Error(String(outcome.status));
    return outcome.body.items.map((m) => ({ id: m.id, name: m.name, hint: m.job_title || m.email || undefined }));
  };
}

export function departmentSource(): Source {
  let loading: Promise<{ id: string; name: string; parent_id: string | null; sort_order: number }[]> | null = null;
  return async (query) => {
    loading ??= all("/api/v1/departments");
    const departments = await loading.catch((error) => {
      loading = null;
      throw error;
    });
    const byId = new Map(departments.map((d) => [d.id, d]));
    const path = (id: string | null): string[] => {
      const names: string[] = [];
      for (let at = id ? byId.get(id) : undefined, depth = 0; at && depth < 20; at = at.parent_id ? byId.get(at.parent_id) : undefined, depth++) {
        names.unshift(at.name);
      }
      return names;
    };
    return departments
      .filter((d) => matches(query, d.name))
      .map((d) => ({ id: d.id, name: d.name, hint: path(d.parent_id).join(" / ") || undefined }));
  };
}

/** Records of a link's table, searched by their primary field (in the database when it holds text). */
export function linkSource(app: string, field: Field): Source {
  const target = String(field.options.table ?? "");
  const base = `/api/v1/apps/${encodeURIComponent(app)}/tables/${encodeURIComponent(target)}`;
  let meta: Promise<Field | null> | null = null;
  const primaryOf = async (): Promise<Field | null> => {
    const table = await call<{ primary_field: string | null }>("GET", base);
    const fields = await call<{ items: Field[] } | Field[]>("GET", `${base}/fields`);
    if (!table.ok || !fields.ok) throw new Error("link table");
    const list = Array.isArray(fields.body) ? fields.body : fields.body.items;
    return list.find((f) => f.key === table.body.primary_field) ?? list[0] ?? null;
  };
  return async (query) => {
    meta ??= primaryOf();
    const primary = await meta.catch((error) => {
      meta = null;
      throw error;
    });
    const params = new URLSearchParams({ page_size: "100" });
    const textual = primary && ["text", "long_text", "email", "phone", "url", "autonumber"].includes(primary.type);
    if (query && textual) params.set("filter", JSON.stringify({ field: primary.key, op: "contains", value: query }));
    if (primary) params.set("sort", primary.key);
    const outcome = await call<Page<{ id: string; fields: Record<string, unknown> }>>("GET", `${base}/records?${params}`);
    if (!outcome.ok) throw new Error(String(outcome.status));
    return outcome.body.items
      .map((record) => ({ id: record.id, name: (primary && display(primary, record.fields[primary.key])) || t("js-empty-value") }))
      .filter((item) => textual || matches(query, item.name));
  };
}
