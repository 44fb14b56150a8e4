// The 视图设置|View settings dialog of a kanban, calendar or gallery page: Group by, Date field, End date
// field, Cover field and the fields the cards show, saved through the views API (PATCH of the view). A
// choice the API refuses (422: the field was deleted meanwhile, or is of another type) is named at its
// control. Settings that point at deleted fields (a sort, a filter condition, a card field) are dropped on
// save, so a view broken by a deleted field can be mended here.

import { call, toLogin } from "./api";
import { showError } from "./forms";
import type { Field } from "./values";

interface SettingsSchema {
  app: string;
  table: string;
  fields: Field[];
  view: { id: string; name: string; type?: string; config: Record<string, unknown> } | null;
}

/** A filter without the conditions on fields the table no longer has (`null` when nothing is left). */
function pruneFilter(node: unknown, known: (key: string) => boolean): unknown {
  if (!node || typeof node !== "object") return null;
  const object = node as Record<string, unknown>;
  for (const conjunction of ["and", "or"]) {
    const items = object[conjunction];
    if (Array.isArray(items)) {
      const kept = items.map((item) => pruneFilter(item, known)).filter((item) => item !== null);
      return kept.length ? { [conjunction]: kept } : null;
    }
  }
  if (typeof object.field === "string" && !known(object.field)) return null;
  return node;
}

function entryKey(entry: unknown): string {
  if (typeof entry === "string") return entry;
  if (entry && typeof entry === "object") return String((entry as { field?: unknown }).field ?? "");
  return "";
}

/** The config the dialog's choices make of the view's `config`. */
export function settingsConfig(form: HTMLFormElement, schema: SettingsSchema, before: Record<string, unknown>): Record<string, unknown> {
  const byKey = (key: string) => schema.fields.find((field) => field.key === key || field.id === key);
  const known = (key: string) => byKey(key) !== undefined;
  const config: Record<string, unknown> = { ...before };
  // Each setting's select: `config.<setting>`; an empty choice leaves an optional setting out (a
  // required one is sent empty, and the API names it).
  for (const select of Array.from(form.querySelectorAll<HTMLSelectElement>("select[name^='config.']"))) {
    const setting = select.name.slice("config.".length);
    const required = setting === "group_field" || setting === "date_field";
    if (select.value || required) config[setting] = select.value;
    else delete config[setting];
  }
  // Card fields: the ticked ones shown, the others hidden, in the dialog's order; entries the dialog
  // does not list (the title, attachments) stay as they were; entries of deleted fields go.
  const stored = Array.isArray(before.fields) ? (before.fields as unknown[]) : [];
  const listed = new Set<string>();
  const fields: unknown[] = [];
  for (const box of Array.from(form.querySelectorAll<HTMLInputElement>("input[name=card_field]"))) {
    listed.add(box.value);
    const old = stored.find((entry) => byKey(entryKey(entry))?.key === box.value);
    const entry: Record<string, unknown> = old && typeof old === "object" ? { ...(old as Record<string, unknown>) } : {};
    entry.field = box.value;
    if (box.checked) delete entry.hidden;
    else entry.hidden = true;
    fields.push(entry);
  }
  for (const entry of stored) {
    const field = byKey(entryKey(entry));
    if (field && !listed.has(field.key)) fields.push(entry);
  }
  config.fields = fields;
  if (typeof config.sort === "string") {
    const parts = config.sort.split(",").filter((part) => part && known(part.replace(/^-/, "")));
    if (parts.length) config.sort = parts.join(",");
    else delete config.sort;
  }
  if (config.filter !== undefined) {
    const filter = pruneFilter(config.filter, known);
    if (filter === null) delete config.filter;
    else config.filter = filter;
  }
  return config;
}

export function initViewSettings(form: HTMLFormElement, schema: SettingsSchema): void {
  const view = schema.view;
  if (!view) return;
  // The field chosen to keep a kanban's order holds places, not something to read on a card: its card
  // box is unticked (it can be ticked again).
  form.querySelector<HTMLSelectElement>("select[name='config.order_field']")?.addEventListener("change", (event) => {
    const key = (event.target as HTMLSelectElement).value;
    const box = Array.from(form.querySelectorAll<HTMLInputElement>("input[name=card_field]")).find((input) => input.value === key);
    if (box) box.checked = false;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      const config = settingsConfig(form, schema, view.config);
      const url = `/api/v1/apps/${encodeURIComponent(schema.app)}/tables/${encodeURIComponent(schema.table)}/views/${encodeURIComponent(view.id)}`;
      const submit = form.querySelector<HTMLButtonElement>("button[type=submit]");
      if (submit) submit.disabled = true;
      const outcome = await call("PATCH", url, { name: view.name, type: view.type ?? form.dataset.kind, config });
      if (submit) submit.disabled = false;
      if (outcome.ok) {
        location.reload();
        return;
      }
      if (outcome.status === 401) return toLogin();
      // A card field's problem is named by the field, not by its place in the list.
      const sent = config.fields as unknown[];
      for (const detail of outcome.error?.details ?? []) {
        const at = /^config\.fields\[(\d+)\]/.exec(detail.field);
        if (!at) continue;
        const key = entryKey(sent[Number(at[1])]);
        const box = Array.from(form.querySelectorAll<HTMLInputElement>("input[name=card_field]")).find((input) => input.value === key);
        detail.field = (box?.id ? form.querySelector(`label[for="${CSS.escape(box.id)}"]`)?.textContent?.trim() : undefined) ?? key;
      }
      showError(form, outcome.error);
    })();
  });
}
