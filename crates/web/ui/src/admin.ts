// The admin pages' lists: `<table data-island="api-table" data-url>` fetches a list from the REST API and
// fills its body, one column per `<th data-col>` (a dotted path into each item, with a `data-format`),
// and per-row actions from `data-actions` (revoke a token, deactivate a member, redeliver an event…).
// `<dl data-island="api-record">` shows one object the same way; `[data-ping]` sends a webhook's test.
// User data reaches the page only through `textContent`.

import { call, toLogin } from "./api";
import { errorMessage, lookup, t } from "./i18n";

type Item = Record<string, unknown>;

function at(item: Item, path: string): unknown {
  return path.split(".").reduce<unknown>((value, key) => (value && typeof value === "object" ? (value as Item)[key] : undefined), item);
}

function time(value: unknown): string {
  if (typeof value !== "string" || !value) return t("js-never");
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString(document.documentElement.lang);
}

/** A value as the column's format shows it. */
function formatted(value: unknown, format: string | undefined): string {
  switch (format) {
    case "role":
    case "status":
    case "delivery":
      return lookup(`js-${format}-${String(value)}`) ?? String(value ?? "");
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

/** The per-row actions: what each does through the API, and when it is offered. */
const ACTIONS: Record<string, { label: string; offered: (item: Item) => boolean; run: (url: string, item: Item) => Promise<boolean> }> = {
  revoke: {
    label: "js-revoke",
    offered: (item) => !item.revoked_at,
    run: async (url, item) => ok(await call("DELETE", `${base(url)}/${encodeURIComponent(String(item.id))}`)),
  },
  deactivate: {
    label: "js-deactivate",
    offered: (item) => item.status === "active" && item.role !== "owner",
    run: async (url, item) => ok(await call("PATCH", `${base(url)}/${encodeURIComponent(String(item.id))}`, { status: "left" })),
  },
  delete: {
    label: "js-delete",
    offered: (item) => item.parent_id !== null,
    run: async (url, item) => ok(await call("DELETE", `${base(url)}/${encodeURIComponent(String(item.id))}`)),
  },
  redeliver: {
    label: "js-redeliver",
    offered: (item) => item.status !== "pending",
    run: async (url, item) => ok(await call("POST", `${base(url).replace(/\/deliveries$/, "")}/redeliver`, { event_id: item.event_id })),
  },
};

function base(url: string): string {
  return url.split("?")[0];
}

function ok(outcome: Awaited<ReturnType<typeof call>>): boolean {
  const status = document.getElementById("save-status");
  if (outcome.ok) {
    if (status) status.textContent = t("js-saved");
    return true;
  }
  if (outcome.status === 401) toLogin();
  if (status) status.textContent = outcome.error ? errorMessage(outcome.error) : t("js-offline");
  return false;
}

/** Rows in tree order with their depth, when the list is a tree (`data-tree="parent_id"`). */
function treeOrder(items: Item[], parentKey: string): { item: Item; depth: number }[] {
  const out: { item: Item; depth: number }[] = [];
  const children = (parent: unknown) => items.filter((item) => (item[parentKey] ?? null) === parent);
  const walk = (parent: unknown, depth: number) => {
    for (const item of children(parent)) {
      out.push({ item, depth });
      walk(item.id, depth + 1);
    }
  };
  walk(null, 0);
  // Anything whose parent is not listed still shows, at the top level.
  for (const item of items) if (!out.some((row) => row.item === item)) out.push({ item, depth: 0 });
  return out;
}

async function fillTable(table: HTMLTableElement): Promise<void> {
  const url = table.dataset.url ?? "";
  const body = table.tBodies[0];
  const outcome = await call<{ items?: Item[] } | Item[]>("GET", url);
  if (!outcome.ok) {
    if (outcome.status === 401) return toLogin();
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = table.tHead?.rows[0]?.cells.length ?? 1;
    cell.textContent = outcome.error ? errorMessage(outcome.error) : t("js-offline");
    return;
  }
  const items = Array.isArray(outcome.body) ? outcome.body : (outcome.body.items ?? []);
  const heads = Array.from(table.tHead?.rows[0]?.cells ?? []) as HTMLTableCellElement[];
  const rows = table.dataset.tree ? treeOrder(items, table.dataset.tree) : items.map((item) => ({ item, depth: 0 }));
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
    heads.forEach((head, index) => {
      const cell = index === 0 ? document.createElement("th") : document.createElement("td");
      if (index === 0) (cell as HTMLTableCellElement).scope = "row";
      row.append(cell);
      if (head.dataset.actions) {
        for (const name of head.dataset.actions.split(" ")) {
          const action = ACTIONS[name];
          if (!action || !action.offered(item)) continue;
          const button = document.createElement("button");
          button.type = "button";
          button.className = "quiet small";
          button.textContent = t(action.label);
          const what = formatted(at(item, heads[0]?.dataset.col ?? "id"), heads[0]?.dataset.format);
          button.setAttribute("aria-label", `${t(action.label)} ${what}`);
          button.addEventListener("click", async () => {
            button.disabled = true;
            if (await action.run(url, item)) await fillTable(table);
            else button.disabled = false;
          });
          cell.append(button);
        }
        return;
      }
      const text = formatted(at(item, head.dataset.col ?? ""), head.dataset.format);
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

async function fillRecord(list: HTMLElement): Promise<void> {
  const outcome = await call<Item>("GET", list.dataset.url ?? "");
  if (!outcome.ok) {
    if (outcome.status === 401) return toLogin();
    return;
  }
  list.querySelectorAll<HTMLElement>("[data-col]").forEach((node) => {
    node.textContent = formatted(at(outcome.body, node.dataset.col ?? ""), node.dataset.format);
  });
}

async function fillOptions(select: HTMLSelectElement): Promise<void> {
  const outcome = await call<{ items?: Item[] }>("GET", select.dataset.optionsUrl ?? "");
  if (!outcome.ok) return;
  for (const { item, depth } of treeOrder(outcome.body.items ?? [], "parent_id")) {
    select.append(new Option(`${"— ".repeat(depth)}${String(item.name)}`, String(item.id)));
  }
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
  document.querySelectorAll<HTMLTableElement>("table[data-island=api-table]").forEach((table) => void fillTable(table));
  document.querySelectorAll<HTMLElement>("[data-island=api-record]").forEach((list) => void fillRecord(list));
  document.querySelectorAll<HTMLSelectElement>("select[data-options-url]").forEach((select) => void fillOptions(select));
  document.querySelectorAll<HTMLButtonElement>("button[data-ping]").forEach(initPing);
}
