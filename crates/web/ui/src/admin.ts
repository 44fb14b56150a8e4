// The admin pages' lists: `<table data-island="api-table" data-url>` fetches a list from the REST API and
// fills its body, one column per `<th data-col>` (a dotted path into each item, with a `data-format`),
// and per-row actions from `data-actions` (edit, delete, revoke a token, deactivate a member, uninstall an
// app, redeliver an event…); destructive ones ask first in the page's own confirm dialog. A `data-paged`
// table pages by the API's cursor under a `nav[data-pager-for]`, and a `form[data-filters-for]` narrows it.
// `<dl data-island="api-record">` shows one object the same way; `[data-ping]` sends a webhook's test.
// Times are shown in the organization's time zone. User data reaches the page only through `textContent`.

import { call, toLogin, type Outcome } from "./api";
import { afterSave, clearErrors, type Failed } from "./forms";
import { errorMessage, detailReason, lookup, t, type ApiError } from "./i18n";

type Item = Record<string, unknown>;

function at(item: Item, path: string): unknown {
  return path.split(".").reduce<unknown>((value, key) => (value && typeof value === "object" ? (value as Item)[key] : undefined), item);
}

/** The organization's time zone (the admin pages carry it), if the browser knows it. */
function zone(): string | undefined {
  const name = document.querySelector<HTMLElement>("[data-time-zone]")?.dataset.timeZone;
  if (!name) return undefined;
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return name;
  } catch {
    return undefined;
  }
}

function time(value: unknown): string {
  if (typeof value !== "string" || !value) return t("js-never");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleString(document.documentElement.lang, {
    timeZone: zone(),
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** Minutes the zone is ahead of UTC at an instant. */
function offsetMinutes(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"), part("second"));
  return Math.round((local - Math.floor(instant / 1000) * 1000) / 60000);
}

/** The instant a day (`YYYY-MM-DD`, plus some days) begins in the organization's time zone, RFC 3339. */
export function dayStart(day: string, plusDays = 0, timeZone = zone() ?? "UTC"): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return null;
  const wall = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + plusDays);
  let instant = wall - offsetMinutes(wall, timeZone) * 60000;
  instant = wall - offsetMinutes(instant, timeZone) * 60000;
  return new Date(instant).toISOString();
}

// ---- the directory, read once per page: names for ids ------------------------------------------------

interface Directory {
  members: Map<string, Item>;
  departments: Map<string, Item>;
  roles: Item[];
}

let directory: Promise<Directory> | null = null;

async function items(url: string): Promise<Item[]> {
  const outcome = await call<{ items?: Item[] } | Item[]>("GET", url);
  if (!outcome.ok) return [];
  return Array.isArray(outcome.body) ? outcome.body : (outcome.body.items ?? []);
}

function loadDirectory(): Promise<Directory> {
  directory ??= Promise.all([
    items("/api/v1/members?page_size=1000"),
    items("/api/v1/departments?page_size=1000"),
    items("/api/v1/roles"),
  ]).then(([members, departments, roles]) => ({
    members: new Map(members.map((m) => [String(m.id), m])),
    departments: new Map(departments.map((d) => [String(d.id), d])),
    roles,
  }));
  return directory;
}

const NEEDS_DIRECTORY = ["members", "departments", "department", "roles"];

/** A value as the column's format shows it. */
function formatted(value: unknown, format: string | undefined, dir: Directory | null): string {
  const names = (ids: unknown, from: Map<string, Item> | undefined) =>
    Array.isArray(ids) ? ids.map((id) => String(from?.get(String(id))?.name ?? id)).join("、") : "";
  switch (format) {
    case "role":
    case "status":
    case "delivery":
      return lookup(`js-${format}-${String(value)}`) ?? String(value ?? "");
    case "event-format":
      return lookup(`js-event-format-${String(value)}`) ?? String(value ?? "");
    case "kind":
      return lookup(`js-kind-${String(value)}`) ?? String(value ?? "");
    case "action": {
      const text = String(value ?? "");
      const dot = text.indexOf(".");
      if (dot < 0) return text;
      const kind = text.slice(0, dot);
      const verb = text.slice(dot + 1);
      return t("js-audit-action", { kind: lookup(`js-kind-${kind}`) ?? kind, verb: lookup(`js-verb-${verb}`) ?? verb });
    }
    case "enabled":
      return t(value === true ? "js-enabled" : "js-disabled");
    case "revoked":
      return t(value ? "js-revoked" : "js-active");
    case "time":
      return time(value);
    case "scopes":
      return Array.isArray(value) ? value.map((scope) => lookup(`js-scope-${String(scope).replace(":", "-")}`) ?? String(scope)).join("、") : "";
    case "list":
      return Array.isArray(value) ? value.join(", ") : "";
    case "members":
      return names(value, dir?.members);
    case "departments":
      return names(value, dir?.departments);
    case "department":
      return value === null || value === undefined ? "" : names([value], dir?.departments);
    case "roles":
      return (dir?.roles ?? [])
        .filter((role) => Array.isArray(role.member_ids) && role.member_ids.includes(value))
        .map((role) => String(role.name))
        .join("、");
    case "last-attempt": {
      const log = Array.isArray(value) ? (value as Item[]) : [];
      const last = log[log.length - 1];
      if (!last) return "";
      const code = last.status_code ? `HTTP ${String(last.status_code)}` : "";
      return [time(last.at), code, String(last.error ?? "")].filter(Boolean).join(" · ");
    }
    default:
      return value === null || value === undefined ? "" : String(value);
  }
}

// ---- errors and confirmation ---------------------------------------------------------------------------

/** Shows why a row's action failed, translated from the error's and its details' codes. */
function showFailure(outcome: { status: number; error: ApiError | null }): void {
  if (outcome.status === 401) return toLogin();
  const box = document.getElementById("admin-error");
  const status = document.getElementById("save-status");
  let text = t("js-offline");
  if (outcome.error) {
    const reasons = outcome.error.details.map(detailReason).filter(Boolean);
    text = reasons.length ? reasons.join(" ") : errorMessage(outcome.error);
  }
  if (box) {
    box.textContent = text;
    box.hidden = false;
  } else if (status) status.textContent = text;
}

function clearFailure(): void {
  const box = document.getElementById("admin-error");
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
}

function ok(outcome: Outcome<unknown>): boolean {
  if (outcome.ok) {
    clearFailure();
    const status = document.getElementById("save-status");
    if (status) status.textContent = t("js-saved");
    return true;
  }
  showFailure(outcome);
  return false;
}

/** Asks in the page's confirm dialog; resolves true when the person confirms. */
function confirmed(title: string, text: string, yes: string): Promise<boolean> {
  const dialog = document.getElementById("confirm-dialog");
  if (!(dialog instanceof HTMLDialogElement)) return Promise.resolve(false);
  const heading = dialog.querySelector<HTMLElement>("#confirm-heading");
  const body = dialog.querySelector<HTMLElement>("#confirm-text");
  const button = dialog.querySelector<HTMLButtonElement>("[data-confirm-yes]");
  if (!heading || !body || !button) return Promise.resolve(false);
  heading.textContent = title;
  body.textContent = text;
  button.textContent = yes;
  return new Promise((resolve) => {
    let answer = false;
    const onYes = () => {
      answer = true;
      dialog.close();
    };
    button.addEventListener("click", onYes);
    dialog.addEventListener(
      "close",
      () => {
        button.removeEventListener("click", onYes);
        resolve(answer);
      },
      { once: true },
    );
    dialog.showModal();
    dialog.querySelector<HTMLButtonElement>("[data-close]")?.focus();
  });
}

// ---- row actions ---------------------------------------------------------------------------------------

interface Row {
  table: HTMLTableElement;
  head: HTMLTableCellElement;
  /** The list's URL without its query: the resource's collection. */
  base: string;
  item: Item;
  /** The item's id in URLs (`data-id` names the key; `id` by default). */
  id: string;
  /** The item as people know it (the first column's text). */
  what: string;
}

interface Action {
  label: string;
  /** Asks first with `js-confirm-<name>` and `js-confirm-<name>-text`. */
  confirm?: boolean;
  offered: (item: Item) => boolean;
  /** Resolves true when the list should be read again. */
  run: (row: Row) => Promise<boolean>;
}

const ACTIONS: Record<string, Action> = {
  edit: {
    label: "js-edit",
    offered: () => true,
    run: async (row) => {
      await openEditor(row);
      return false;
    },
  },
  revoke: {
    label: "js-revoke",
    confirm: true,
    offered: (item) => !item.revoked_at,
    run: async (row) => ok(await call("DELETE", `${row.base}/${encodeURIComponent(row.id)}`)),
  },
  deactivate: {
    label: "js-deactivate",
    confirm: true,
    offered: (item) => item.status === "active" && item.role !== "owner",
    run: async (row) => ok(await call("PATCH", `${row.base}/${encodeURIComponent(row.id)}`, { status: "left" })),
  },
  delete: {
    label: "js-delete",
    confirm: true,
    offered: (item) => item.parent_id !== null,
    run: async (row) => ok(await call("DELETE", `${row.base}/${encodeURIComponent(row.id)}`)),
  },
  uninstall: {
    label: "js-uninstall",
    confirm: true,
    offered: () => true,
    run: async (row) => ok(await call("DELETE", `${row.base}/${encodeURIComponent(row.id)}`)),
  },
  rotate: {
    label: "js-rotate",
    confirm: true,
    offered: (item) => item.registered_here === true,
    run: async (row) => {
      const outcome = await call<Item>("POST", `${row.base}/${encodeURIComponent(row.id)}/rotate-secret`);
      if (!ok(outcome) || !outcome.ok) return false;
      const dialog = document.getElementById("rotated-dialog");
      if (dialog instanceof HTMLDialogElement) {
        dialog.querySelectorAll<HTMLElement>(".secret-value").forEach((node) => {
          node.textContent = String(outcome.body[node.dataset.key ?? "client_secret"] ?? "");
        });
        dialog.showModal();
      }
      return true;
    },
  },
  redeliver: {
    label: "js-redeliver",
    offered: (item) => item.status !== "pending",
    run: async (row) => ok(await call("POST", `${row.base.replace(/\/deliveries$/, "")}/redeliver`, { event_id: row.item.event_id })),
  },
};

// ---- edit dialogs --------------------------------------------------------------------------------------

/** Lists that fill a form's inputs (options, checkboxes), so an editor opens once they are there. */
const filling = new WeakMap<Element, Promise<void>>();

async function openEditor(row: Row): Promise<void> {
  const dialog = document.getElementById(row.head.dataset.edit ?? "");
  const form = dialog?.querySelector("form");
  if (!(dialog instanceof HTMLDialogElement) || !form) return;
  await Promise.all(Array.from(form.querySelectorAll("select, fieldset")).map((node) => filling.get(node)));
  form.dataset.url = `${row.base}/${encodeURIComponent(row.id)}`;
  clearErrors(form);
  for (const element of Array.from(form.elements)) {
    if (!(element instanceof HTMLInputElement || element instanceof HTMLSelectElement)) continue;
    if (element instanceof HTMLInputElement && element.type === "checkbox") {
      if (element.name) {
        const chosen = row.item[element.name];
        element.checked = Array.isArray(chosen) && chosen.map(String).includes(element.value);
      } else if (element.dataset.role) {
        const role = (await loadDirectory()).roles.find((r) => r.key === element.dataset.role);
        element.checked = Array.isArray(role?.member_ids) && role.member_ids.includes(row.id);
      }
      continue;
    }
    if (!element.name) continue;
    const value = row.item[element.name];
    element.value = value === null || value === undefined ? "" : String(value);
    if (element instanceof HTMLSelectElement && element.name === "parent_id") {
      // A department cannot go under itself.
      for (const option of Array.from(element.options)) option.disabled = option.value === row.id;
    }
  }
  if (form.hasAttribute("data-member-roles")) form.dataset.memberId = row.id;
  dialog.showModal();
  form.querySelector<HTMLElement>("input, select")?.focus();
}

/** The member dialog's position ticks: after the member is saved, each changed position is written. */
function initMemberRoles(form: HTMLFormElement): void {
  const fieldset = form.querySelector<HTMLFieldSetElement>("[data-role-checks]");
  if (!fieldset) return;
  const filled = loadDirectory().then((dir) => {
    for (const role of dir.roles) {
      const label = document.createElement("label");
      label.className = "check";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.dataset.role = String(role.key);
      label.append(box, ` ${String(role.name)}`);
      fieldset.append(label);
    }
    if (dir.roles.length === 0) fieldset.hidden = true;
  });
  filling.set(fieldset, filled);
  afterSave.set(form, async (): Promise<Failed | null> => {
    const member = form.dataset.memberId ?? "";
    const dir = await loadDirectory();
    for (const box of Array.from(fieldset.querySelectorAll<HTMLInputElement>("input[data-role]"))) {
      const role = dir.roles.find((r) => r.key === box.dataset.role);
      if (!role) continue;
      const holders = (Array.isArray(role.member_ids) ? role.member_ids : []).map(String);
      if (holders.includes(member) === box.checked) continue;
      const member_ids = box.checked ? [...holders, member] : holders.filter((id) => id !== member);
      const outcome = await call("PATCH", `/api/v1/roles/${encodeURIComponent(String(role.key))}`, { member_ids });
      if (!outcome.ok) return { status: outcome.status, error: outcome.error };
    }
    return null;
  });
}

/** Checkboxes for each item of a list (`data-checks-url`), as a tree when the items have parents. */
function fillChecks(fieldset: HTMLFieldSetElement): void {
  const name = fieldset.dataset.checksName ?? "";
  const filled = items(fieldset.dataset.checksUrl ?? "").then((found) => {
    for (const { item, depth } of treeOrder(found, "parent_id")) {
      const label = document.createElement("label");
      label.className = `check${depth > 0 ? ` depth-${Math.min(depth, 6)}` : ""}`;
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = name;
      box.value = String(item.id);
      box.dataset.type = "array";
      label.append(box, ` ${String(item.name)}`);
      fieldset.append(label);
    }
  });
  filling.set(fieldset, filled);
}

// ---- lists ---------------------------------------------------------------------------------------------

/** Rows in tree order with their depth, when the list is a tree (`data-tree="parent_id"`). */
function treeOrder(list: Item[], parentKey: string): { item: Item; depth: number }[] {
  const out: { item: Item; depth: number }[] = [];
  const children = (parent: unknown) => list.filter((item) => (item[parentKey] ?? null) === parent);
  const walk = (parent: unknown, depth: number) => {
    for (const item of children(parent)) {
      out.push({ item, depth });
      walk(item.id, depth + 1);
    }
  };
  walk(null, 0);
  // Anything whose parent is not listed still shows, at the top level.
  for (const item of list) if (!out.some((row) => row.item === item)) out.push({ item, depth: 0 });
  return out;
}

/** A paged list's place: the cursors of the pages seen so far, and the one shown. */
interface Paging {
  cursors: (string | null)[];
  index: number;
  next: string | null;
}

const paging = new WeakMap<HTMLTableElement, Paging>();

function listUrl(table: HTMLTableElement): string {
  let url = table.dataset.url ?? "";
  const query = table.dataset.query;
  if (query) url += `${url.includes("?") ? "&" : "?"}${query}`;
  const place = paging.get(table);
  const cursor = place?.cursors[place.index];
  if (cursor) url += `${url.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}`;
  return url;
}

function updatePager(table: HTMLTableElement): void {
  const pager = document.querySelector<HTMLElement>(`[data-pager-for="${CSS.escape(table.id)}"]`);
  const place = paging.get(table);
  if (!pager || !place) return;
  const previous = pager.querySelector<HTMLButtonElement>("[data-page=previous]");
  const next = pager.querySelector<HTMLButtonElement>("[data-page=next]");
  const number = pager.querySelector<HTMLElement>(".page-number");
  if (previous) previous.disabled = place.index === 0;
  if (next) next.disabled = place.next === null;
  if (number) number.textContent = t("js-page-number", { page: place.index + 1 });
}

async function fillTable(table: HTMLTableElement): Promise<void> {
  const heads = Array.from(table.tHead?.rows[0]?.cells ?? []) as HTMLTableCellElement[];
  const dir = heads.some((head) => NEEDS_DIRECTORY.includes(head.dataset.format ?? "")) ? await loadDirectory() : null;
  const url = table.dataset.url?.split("?")[0] ?? "";
  const body = table.tBodies[0];
  const outcome = await call<{ items?: Item[]; next_cursor?: string | null } | Item[]>("GET", listUrl(table));
  if (!outcome.ok) {
    if (outcome.status === 401) return toLogin();
    body.replaceChildren();
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = heads.length || 1;
    cell.textContent = outcome.error ? errorMessage(outcome.error) : t("js-offline");
    return;
  }
  const list = Array.isArray(outcome.body) ? outcome.body : (outcome.body.items ?? []);
  const place = paging.get(table);
  if (place) {
    place.next = Array.isArray(outcome.body) ? null : (outcome.body.next_cursor ?? null);
    updatePager(table);
  }
  const rows = table.dataset.tree ? treeOrder(list, table.dataset.tree) : list.map((item) => ({ item, depth: 0 }));
  body.replaceChildren();
  if (rows.length === 0) {
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = heads.length;
    cell.className = "hint";
    cell.textContent = table.dataset.empty ?? t("js-list-empty");
  }
  for (const { item, depth } of rows) {
    const row = body.insertRow();
    const what = formatted(at(item, heads[0]?.dataset.col ?? "id"), heads[0]?.dataset.format, dir);
    heads.forEach((head, index) => {
      const cell = index === 0 ? document.createElement("th") : document.createElement("td");
      if (index === 0) (cell as HTMLTableCellElement).scope = "row";
      row.append(cell);
      if (head.dataset.actions) {
        cell.className = "row-actions";
        for (const name of head.dataset.actions.split(" ")) {
          const action = ACTIONS[name];
          if (!action || !action.offered(item)) continue;
          const button = document.createElement("button");
          button.type = "button";
          button.className = "quiet small";
          button.textContent = t(action.label);
          button.setAttribute("aria-label", `${t(action.label)} ${what}`);
          const target: Row = { table, head, base: url, item, id: String(item[table.dataset.id ?? "id"]), what };
          button.addEventListener("click", async () => {
            if (action.confirm && !(await confirmed(t(`js-confirm-${name}`, { name: what }), t(`js-confirm-${name}-text`), t(action.label)))) {
              button.focus();
              return;
            }
            button.disabled = true;
            if (await action.run(target)) await fillTable(table);
            else button.disabled = false;
          });
          cell.append(button);
        }
        return;
      }
      const text = formatted(at(item, head.dataset.col ?? ""), head.dataset.format, dir);
      if (head.dataset.format === "link" && head.dataset.link) {
        const link = document.createElement("a");
        link.href = head.dataset.link.replace("{id}", encodeURIComponent(String(item.id)));
        link.textContent = text;
        cell.append(link);
      } else cell.textContent = text;
      if (index === 0 && depth > 0) cell.classList.add(`depth-${Math.min(depth, 6)}`);
      cell.setAttribute("data-user-content", "");
    });
  }
}

function initPaging(table: HTMLTableElement): void {
  paging.set(table, { cursors: [null], index: 0, next: null });
  const pager = document.querySelector<HTMLElement>(`[data-pager-for="${CSS.escape(table.id)}"]`);
  pager?.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement | null)?.closest<HTMLButtonElement>("button[data-page]");
    const place = paging.get(table);
    if (!button || !place) return;
    if (button.dataset.page === "next" && place.next) {
      place.cursors = place.cursors.slice(0, place.index + 1);
      place.cursors.push(place.next);
      place.index += 1;
    } else if (button.dataset.page === "previous" && place.index > 0) {
      place.index -= 1;
    } else return;
    void fillTable(table);
  });
}

/** A filter form over a paged list: its values become the list's query, from the first page. */
function initFilters(form: HTMLFormElement): void {
  const table = document.getElementById(form.dataset.filtersFor ?? "");
  if (!(table instanceof HTMLTableElement)) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const element of Array.from(form.elements)) {
      if (!(element instanceof HTMLInputElement || element instanceof HTMLSelectElement) || !element.name || !element.value) continue;
      const kind = element.dataset.type;
      const value = kind === "day-start" ? dayStart(element.value) : kind === "day-end" ? dayStart(element.value, 1) : element.value;
      if (value) query.set(element.name, value);
    }
    table.dataset.query = query.toString();
    paging.set(table, { cursors: [null], index: 0, next: null });
    void fillTable(table);
  });
}

async function fillRecord(list: HTMLElement): Promise<void> {
  const outcome = await call<Item>("GET", list.dataset.url ?? "");
  if (!outcome.ok) {
    if (outcome.status === 401) return toLogin();
    return;
  }
  list.querySelectorAll<HTMLElement>("[data-col]").forEach((node) => {
    node.textContent = formatted(at(outcome.body, node.dataset.col ?? ""), node.dataset.format, null);
  });
}

function fillOptions(select: HTMLSelectElement): void {
  const filled = items(select.dataset.optionsUrl ?? "").then((found) => {
    for (const { item, depth } of treeOrder(found, "parent_id")) {
      select.append(new Option(`${"— ".repeat(depth)}${String(item.name)}`, String(item.id)));
    }
  });
  filling.set(select, filled);
}

function initPing(button: HTMLButtonElement): void {
  const result = document.querySelector<HTMLElement>(".ping-result");
  button.addEventListener("click", async () => {
    button.disabled = true;
    const outcome = await call<{ delivered: boolean; status_code: number | null; latency_ms: number; error: string | null }>("POST", button.dataset.ping ?? "");
    button.disabled = false;
    if (!result) return;
    result.hidden = false;
    if (!outcome.ok) {
      if (outcome.status === 401) return toLogin();
      result.textContent = outcome.error ? errorMessage(outcome.error) : t("js-offline");
      return;
    }
    const answer = outcome.body;
    result.textContent = answer.delivered
      ? t("js-ping-delivered", { status: answer.status_code ?? "", ms: answer.latency_ms })
      : t("js-ping-failed", { status: answer.status_code ?? "—", error: answer.error ?? "" });
  });
}

export function initAdmin(): void {
  document.querySelectorAll<HTMLElement>(".time-zone").forEach((node) => (node.textContent = zone() ?? "UTC"));
  document.querySelectorAll<HTMLSelectElement>("select[data-options-url]").forEach(fillOptions);
  document.querySelectorAll<HTMLFieldSetElement>("fieldset[data-checks-url]").forEach(fillChecks);
  document.querySelectorAll<HTMLFormElement>("form[data-member-roles]").forEach(initMemberRoles);
  document.querySelectorAll<HTMLTableElement>("table[data-island=api-table][data-paged]").forEach(initPaging);
  document.querySelectorAll<HTMLFormElement>("form[data-filters-for]").forEach(initFilters);
  document.querySelectorAll<HTMLTableElement>("table[data-island=api-table]").forEach((table) => void fillTable(table));
  document.querySelectorAll<HTMLElement>("[data-island=api-record]").forEach((list) => void fillRecord(list));
  document.querySelectorAll<HTMLButtonElement>("button[data-ping]").forEach(initPing);
}
