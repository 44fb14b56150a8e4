// The view tools of a table page: filter (and/or groups, each type's operators, relative dates), sort,
// group, the fields a view shows (hide, order, width, row height), and creating, renaming, duplicating
// views, and publishing a grid read-only (`public`). Everything is stored in the grid view's `filter`,
// `sort`, `group_by`, `fields`, `row_height` and `public` through the views API; a table without a grid
// view gets one the first time a tool is saved.

import { call, toLogin } from "./api";
import { showError } from "./forms";
import { t } from "./i18n";
import { choices, type Field } from "./values";

interface ViewInfo {
  id: string;
  name: string;
  type?: string;
  config: Record<string, unknown>;
}

interface ToolSchema {
  app: string;
  table: string;
  fields: Field[];
  columns: { key: string; width: number | null }[];
  view: ViewInfo | null;
}

interface Condition {
  kind: "condition";
  field: string;
  op: string;
  value: unknown;
}

interface Group {
  kind: "group";
  conjunction: "and" | "or";
  items: (Condition | Group)[];
}

const TEXT_OPS = ["eq", "ne", "contains", "not_contains", "starts_with", "ends_with", "in", "not_in", "is_empty", "is_not_empty"];
const NUMBER_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "is_empty", "is_not_empty"];
const DATE_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty"];
const LIST_OPS = ["has_any", "has_all", "is_empty", "is_not_empty"];
const RELATIVE = ["today", "yesterday", "this_week", "last_7_days", "this_month", "last_month", "this_year"];

/** What a field is compared as: its own type, or a computed field's result type. */
function kindOf(field: Field): string {
  const computed = ["formula", "rollup", "count"].includes(field.type);
  const type = computed ? (field.result?.type ?? "text") : field.type;
  if (["number", "currency", "percent", "rating", "duration", "count"].includes(type)) return "number";
  if (["date", "datetime", "created_time", "modified_time"].includes(type)) return "date";
  if (["checkbox", "boolean"].includes(type)) return "checkbox";
  if (type === "single_select") return "choice";
  if (["multi_select", "member", "department", "link", "lookup"].includes(type)) return "list";
  if (["attachment", "created_by", "modified_by"].includes(type)) return "presence";
  return "text";
}

export function operatorsFor(field: Field): string[] {
  switch (kindOf(field)) {
    case "number":
      return NUMBER_OPS;
    case "date":
      return DATE_OPS;
    case "checkbox":
      return ["eq", "ne"];
    case "choice":
      return ["eq", "ne", "in", "not_in", "is_empty", "is_not_empty"];
    case "list":
      return LIST_OPS;
    case "presence":
      return ["is_empty", "is_not_empty"];
    default:
      return TEXT_OPS;
  }
}

function operatorLabel(op: string): string {
  // `eq` is the pinned name 等于|is.
  return t(op === "eq" ? "operator-is" : `operator-${op}`);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function button(text: string, action: () => void, className = "quiet small", label = ""): HTMLButtonElement {
  const node = element("button", className, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  node.addEventListener("click", action);
  return node;
}

function option(value: string, text: string, selected = false): HTMLOptionElement {
  const node = new Option(text, value, selected, selected);
  return node;
}

// ---- the filter tree between the API's JSON and the editor's model ------------------------------------

function parseFilter(raw: unknown): Group {
  const root: Group = { kind: "group", conjunction: "and", items: [] };
  if (!raw || typeof raw !== "object") return root;
  const node = raw as Record<string, unknown>;
  if (Array.isArray(node.and) || Array.isArray(node.or)) {
    const conjunction = Array.isArray(node.and) ? "and" : "or";
    const items = (node[conjunction] as unknown[]).map((child) => {
      const parsed = parseNode(child);
      return parsed;
    });
    return { kind: "group", conjunction, items: items.filter((x): x is Condition | Group => x !== null) };
  }
  const leaf = parseNode(raw);
  if (leaf) root.items.push(leaf);
  return root;
}

function parseNode(raw: unknown): Condition | Group | null {
  if (!raw || typeof raw !== "object") return null;
  const node = raw as Record<string, unknown>;
  if (Array.isArray(node.and) || Array.isArray(node.or)) return parseFilter(raw);
  if (typeof node.field === "string" && typeof node.op === "string") {
    return { kind: "condition", field: node.field, op: node.op, value: node.value ?? null };
  }
  return null;
}

function toJson(node: Condition | Group): unknown {
  if (node.kind === "condition") {
    const out: Record<string, unknown> = { field: node.field, op: node.op };
    if (!["is_empty", "is_not_empty"].includes(node.op)) out.value = node.value;
    return out;
  }
  const items = node.items.map(toJson).filter((x) => x !== null);
  if (items.length === 0) return null;
  return { [node.conjunction]: items };
}

// ---- the tools ----------------------------------------------------------------------------------------

export class ViewTools {
  private schema: ToolSchema;
  private base: string;
  private filter: Group;

  constructor(schema: ToolSchema) {
    this.schema = schema;
    this.base = `/api/v1/apps/${encodeURIComponent(schema.app)}/tables/${encodeURIComponent(schema.table)}/views`;
    this.filter = parseFilter(this.config.filter);
    this.bind();
    this.counts();
  }

  private get config(): Record<string, unknown> {
    return this.schema.view?.config ?? {};
  }

  private field(key: string): Field | undefined {
    return this.schema.fields.find((f) => f.key === key);
  }

  private counts(): void {
    const set = (name: string, count: number) => {
      const badge = document.querySelector<HTMLElement>(`[data-count="${name}"]`);
      if (!badge) return;
      badge.textContent = String(count);
      badge.hidden = count === 0;
    };
    const conditions = (group: Group): number =>
      group.items.reduce((sum, item) => sum + (item.kind === "group" ? conditions(item) : 1), 0);
    set("filter", conditions(this.filter));
    const sort = typeof this.config.sort === "string" ? this.config.sort.split(",").filter(Boolean) : [];
    set("sort", sort.length);
    set("group", typeof this.config.group_by === "string" && this.config.group_by ? 1 : 0);
    set("hidden", this.schema.fields.length - this.schema.columns.length);
  }

  private bind(): void {
    document.querySelectorAll<HTMLFormElement>("form.view-form").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        void this.submit(form);
      });
    });
    // Fill a tool's dialog from the view each time it opens (a cancelled edit is forgotten).
    document.querySelectorAll<HTMLButtonElement>("[data-open]").forEach((opener) => {
      opener.addEventListener("click", () => this.prepare(opener.dataset.open ?? ""), { capture: true });
    });
    // The view type switch shows the settings each type needs.
    const types = Array.from(document.querySelectorAll<HTMLInputElement>("input[name=type][id^=new-view-type-]"));
    const showSettings = () => {
      const kind = types.find((radio) => radio.checked)?.value ?? "grid";
      document.querySelectorAll<HTMLElement>("[data-view-types]").forEach((node) => {
        node.hidden = !(node.dataset.viewTypes ?? "").split(" ").includes(kind);
      });
    };
    types.forEach((radio) => radio.addEventListener("change", showSettings));
    showSettings();
    document.querySelectorAll<HTMLButtonElement>("[data-view-action=duplicate]").forEach((node) =>
      node.addEventListener("click", () => void this.duplicate()),
    );
    document.querySelector<HTMLButtonElement>("[data-action=add-sort]")?.addEventListener("click", () => {
      const list = document.querySelector<HTMLOListElement>(".sort-list");
      const first = this.schema.fields[0];
      if (list && first) {
        list.querySelector(".empty-note")?.remove();
        list.append(this.sortRow(first.key, false));
        list.querySelector<HTMLSelectElement>("li:last-child select")?.focus();
      }
    });
  }

  private prepare(id: string): void {
    if (id === "filter-dialog") {
      this.filter = parseFilter(this.config.filter);
      this.renderFilter();
    } else if (id === "sort-dialog") this.renderSort();
    else if (id === "group-dialog") {
      const select = document.getElementById("group-by") as HTMLSelectElement | null;
      if (select) select.value = typeof this.config.group_by === "string" ? this.config.group_by : "";
    } else if (id === "fields-dialog") this.renderColumns();
  }

  // ---- filter ---------------------------------------------------------------------------------------

  private renderFilter(): void {
    const root = document.querySelector<HTMLElement>(".filter-root");
    if (!root) return;
    root.replaceChildren(this.groupElement(this.filter, null));
  }

  private groupElement(group: Group, parent: Group | null): HTMLElement {
    const box = element(parent ? "fieldset" : "div", parent ? "filter-group nested" : "filter-group");
    if (parent) {
      const legend = element("legend", "", t("js-group-of-conditions"));
      box.append(legend);
    }
    const head = element("div", "filter-head");
    const id = `conj-${Math.random().toString(36).slice(2, 8)}`;
    const label = element("label", "", t("js-filter-conjunction"));
    label.htmlFor = id;
    const conj = element("select");
    conj.id = id;
    conj.append(option("and", t("js-filter-all"), group.conjunction === "and"), option("or", t("js-filter-any"), group.conjunction === "or"));
    conj.addEventListener("change", () => (group.conjunction = conj.value === "or" ? "or" : "and"));
    head.append(label, conj);
    box.append(head);
    const list = element("ul", "condition-list");
    if (group.items.length === 0 && !parent) list.append(element("li", "empty-note hint", t("js-filter-empty")));
    for (const item of group.items) {
      const li = element("li");
      li.append(item.kind === "group" ? this.groupElement(item, group) : this.conditionElement(item, group));
      list.append(li);
    }
    box.append(list);
    const actions = element("div", "filter-actions");
    actions.append(
      button(t("add-condition"), () => {
        const first = this.schema.fields[0];
        if (!first) return;
        const condition: Condition = { kind: "condition", field: first.key, op: operatorsFor(first)[0], value: "" };
        group.items.push(condition);
        this.renderFilter();
        this.focusLast(condition);
      }, "small"),
    );
    if (!parent) {
      actions.append(
        button(t("js-add-group"), () => {
          const first = this.schema.fields[0];
          if (!first) return;
          group.items.push({
            kind: "group",
            conjunction: "or",
            items: [{ kind: "condition", field: first.key, op: operatorsFor(first)[0], value: "" }],
          });
          this.renderFilter();
        }, "small"),
      );
    } else {
      actions.append(
        button(t("js-remove-group"), () => {
          parent.items.splice(parent.items.indexOf(group), 1);
          this.renderFilter();
        }, "quiet small danger"),
      );
    }
    box.append(actions);
    return box;
  }

  private focusLast(condition: Condition): void {
    const rows = document.querySelectorAll<HTMLElement>(".filter-root .condition");
    const index = this.allConditions(this.filter).indexOf(condition);
    rows[index]?.querySelector<HTMLSelectElement>("select")?.focus();
  }

  private allConditions(group: Group): Condition[] {
    return group.items.flatMap((item) => (item.kind === "group" ? this.allConditions(item) : [item]));
  }

  private conditionElement(condition: Condition, group: Group): HTMLElement {
    const row = element("div", "condition");
    const fieldSelect = element("select");
    fieldSelect.setAttribute("aria-label", t("condition-field"));
    for (const field of this.schema.fields) fieldSelect.append(option(field.key, field.name, field.key === condition.field));
    const field = this.field(condition.field) ?? this.schema.fields[0];
    const ops = field ? operatorsFor(field) : TEXT_OPS;
    if (!ops.includes(condition.op)) condition.op = ops[0];
    const opSelect = element("select");
    opSelect.setAttribute("aria-label", t("condition-operator"));
    for (const op of ops) opSelect.append(option(op, operatorLabel(op), op === condition.op));
    fieldSelect.addEventListener("change", () => {
      condition.field = fieldSelect.value;
      const next = this.field(condition.field);
      if (next && !operatorsFor(next).includes(condition.op)) condition.op = operatorsFor(next)[0];
      condition.value = "";
      row.replaceWith(this.conditionElement(condition, group));
    });
    opSelect.addEventListener("change", () => {
      condition.op = opSelect.value;
      row.replaceWith(this.conditionElement(condition, group));
    });
    row.append(fieldSelect, opSelect);
    if (field && !["is_empty", "is_not_empty"].includes(condition.op)) row.append(this.valueControl(field, condition));
    row.append(
      button("×", () => {
        group.items.splice(group.items.indexOf(condition), 1);
        this.renderFilter();
      }, "quiet small", t("js-remove-condition")),
    );
    return row;
  }

  /** The value control, named 值|Value; its text becomes the condition's value as the API wants it. */
  private valueControl(field: Field, condition: Condition): HTMLElement {
    const kind = kindOf(field);
    const many = ["in", "not_in", "has_any", "has_all"].includes(condition.op);
    const between = condition.op === "between";
    const wrap = element("span", "condition-value");
    if (kind === "checkbox") {
      const select = element("select");
      select.setAttribute("aria-label", t("condition-value"));
      select.append(option("true", t("js-checked"), condition.value === true), option("false", t("js-unchecked"), condition.value === false));
      condition.value = select.value === "true";
      select.addEventListener("change", () => (condition.value = select.value === "true"));
      wrap.append(select);
      return wrap;
    }
    if (kind === "choice" && !many) {
      const select = element("select");
      select.setAttribute("aria-label", t("condition-value"));
      for (const choice of choices(field)) select.append(option(choice.name, choice.name, choice.name === condition.value));
      condition.value = select.value;
      select.addEventListener("change", () => (condition.value = select.value));
      wrap.append(select);
      return wrap;
    }
    if (kind === "date" && !between) {
      const relative = condition.value && typeof condition.value === "object" ? String((condition.value as { relative?: unknown }).relative ?? "") : "";
      const select = element("select");
      select.setAttribute("aria-label", t("condition-value"));
      for (const name of RELATIVE) select.append(option(name, t(`js-relative-${name}`), name === relative));
      select.append(option("", t("js-relative-exact"), !relative));
      const date = element("input");
      date.type = "date";
      date.setAttribute("aria-label", t("js-exact-date"));
      if (typeof condition.value === "string") date.value = condition.value;
      const sync = () => {
        date.hidden = select.value !== "";
        condition.value = select.value ? { relative: select.value } : date.value;
      };
      select.addEventListener("change", sync);
      date.addEventListener("input", sync);
      if (!relative && typeof condition.value !== "string") select.value = "today";
      sync();
      wrap.append(select, date);
      return wrap;
    }
    const input = element("input");
    input.setAttribute("aria-label", t("condition-value"));
    input.autocomplete = "off";
    const shown = Array.isArray(condition.value) ? condition.value.join(", ") : condition.value == null ? "" : String(condition.value);
    input.value = shown;
    if (many || between) input.title = t(between ? "js-between-hint" : "js-values-hint");
    if (many || between) input.placeholder = t(between ? "js-between-hint" : "js-values-hint");
    const sync = () => {
      const text = input.value;
      // Numbers stay strings (exact decimals); the server types each value by the field.
      condition.value = many || between ? text.split(/[,，]/).map((part) => part.trim()).filter(Boolean) : text.trim();
    };
    input.addEventListener("input", sync);
    sync();
    wrap.append(input);
    return wrap;
  }

  // ---- sort ------------------------------------------------------------------------------------------

  private renderSort(): void {
    const list = document.querySelector<HTMLOListElement>(".sort-list");
    if (!list) return;
    list.replaceChildren();
    const parts = typeof this.config.sort === "string" ? this.config.sort.split(",").filter(Boolean) : [];
    for (const part of parts) {
      const descending = part.startsWith("-");
      list.append(this.sortRow(descending ? part.slice(1) : part, descending));
    }
    if (parts.length === 0) list.append(element("li", "empty-note hint", t("js-sort-empty")));
  }

  private sortRow(key: string, descending: boolean): HTMLLIElement {
    const li = element("li", "sort-row");
    const field = element("select");
    field.name = "sort_field";
    field.setAttribute("aria-label", t("js-sort-by"));
    for (const f of this.schema.fields) field.append(option(f.key, f.name, f.key === key));
    const direction = element("select");
    direction.name = "sort_direction";
    direction.setAttribute("aria-label", t("js-sort-direction"));
    direction.append(option("asc", t("js-sort-ascending"), !descending), option("desc", t("js-sort-descending"), descending));
    li.append(field, direction, button("×", () => li.remove(), "quiet small", t("js-remove-sort")));
    return li;
  }

  // ---- fields: hide, order, width, row height ---------------------------------------------------------

  private renderColumns(): void {
    const list = document.querySelector<HTMLOListElement>(".column-list");
    if (!list) return;
    list.replaceChildren();
    const shown = new Map(this.schema.columns.map((c) => [c.key, c.width]));
    const ordered = [
      ...this.schema.columns.map((c) => this.field(c.key)).filter((f): f is Field => !!f),
      ...this.schema.fields.filter((f) => !shown.has(f.key)),
    ];
    // Hidden fields keep their place in the view's list when it has one.
    const stored = Array.isArray(this.config.fields) ? (this.config.fields as unknown[]) : null;
    const order = stored
      ? [
          ...stored
            .map((entry) => (typeof entry === "string" ? entry : String((entry as { field?: unknown }).field ?? "")))
            .map((key) => this.schema.fields.find((f) => f.key === key || f.id === key))
            .filter((f): f is Field => !!f),
          ...this.schema.fields,
        ].filter((f, i, all) => all.indexOf(f) === i)
      : ordered;
    for (const field of order) list.append(this.columnRow(field, shown.has(field.key), shown.get(field.key) ?? null));
    const height = document.getElementById("row-height") as HTMLSelectElement | null;
    if (height) height.value = typeof this.config.row_height === "string" ? this.config.row_height : "short";
  }

  private columnRow(field: Field, visible: boolean, width: number | null): HTMLLIElement {
    const li = element("li", "column-row");
    li.dataset.key = field.key;
    const id = `show-${field.key}`;
    const check = element("input");
    check.type = "checkbox";
    check.id = id;
    check.checked = visible;
    const label = element("label", "", field.name);
    label.htmlFor = id;
    label.setAttribute("aria-label", t("js-show-field", { name: field.name }));
    const size = element("input", "column-width");
    size.type = "number";
    size.min = "60";
    size.max = "800";
    size.step = "10";
    size.inputMode = "numeric";
    size.value = width === null ? "" : String(width);
    size.setAttribute("aria-label", t("js-column-width", { name: field.name }));
    size.placeholder = t("js-width");
    const up = button("↑", () => {
      const previous = li.previousElementSibling;
      if (previous) previous.before(li);
      up.focus();
    }, "quiet small", t("js-move-up", { name: field.name }));
    const down = button("↓", () => {
      const next = li.nextElementSibling;
      if (next) next.after(li);
      down.focus();
    }, "quiet small", t("js-move-down", { name: field.name }));
    li.append(check, label, size, up, down);
    return li;
  }

  // ---- saving -----------------------------------------------------------------------------------------

  private async submit(form: HTMLFormElement): Promise<void> {
    const tool = form.dataset.tool ?? "";
    const config: Record<string, unknown> = { ...this.config };
    let name = this.schema.view?.name ?? t("js-default-view-name");
    if (tool === "filter") {
      const json = toJson(this.filter);
      if (json === null) delete config.filter;
      else config.filter = json;
    } else if (tool === "sort") {
      const rows = Array.from(form.querySelectorAll<HTMLLIElement>(".sort-row"));
      const parts = rows.map((row) => {
        const key = (row.querySelector("select[name=sort_field]") as HTMLSelectElement).value;
        const direction = (row.querySelector("select[name=sort_direction]") as HTMLSelectElement).value;
        return direction === "desc" ? `-${key}` : key;
      });
      const unique = parts.filter((part, i) => parts.findIndex((p) => p.replace(/^-/, "") === part.replace(/^-/, "")) === i);
      if (unique.length) config.sort = unique.join(",");
      else delete config.sort;
    } else if (tool === "group") {
      const value = (form.elements.namedItem("group_by") as HTMLSelectElement).value;
      if (value) config.group_by = value;
      else delete config.group_by;
    } else if (tool === "fields") {
      config.fields = Array.from(form.querySelectorAll<HTMLLIElement>(".column-row")).map((row) => {
        const entry: Record<string, unknown> = { field: row.dataset.key };
        if (!(row.querySelector("input[type=checkbox]") as HTMLInputElement).checked) entry.hidden = true;
        const width = Number((row.querySelector(".column-width") as HTMLInputElement).value);
        if (width >= 60) entry.width = Math.min(800, Math.round(width));
        return entry;
      });
      if (this.viewType === "grid") config.row_height = (form.elements.namedItem("row_height") as HTMLSelectElement).value;
    } else if (tool === "new-view") {
      const fresh = (form.elements.namedItem("name") as HTMLInputElement).value.trim();
      const kind = form.querySelector<HTMLInputElement>("input[name=type]:checked")?.value ?? "grid";
      const settings: Record<string, unknown> = {};
      const chosen = (name: string) => (form.elements.namedItem(name) as HTMLSelectElement | null)?.value ?? "";
      if (kind === "kanban") {
        settings.group_field = chosen("group_field");
        if (chosen("cover_field")) settings.card_cover = chosen("cover_field");
      } else if (kind === "calendar") {
        settings.date_field = chosen("date_field");
        if (chosen("end_date_field")) settings.end_date_field = chosen("end_date_field");
      } else if (kind === "gallery" && chosen("cover_field")) {
        settings.cover_field = chosen("cover_field");
      }
      return this.create(form, fresh, settings, kind);
    } else if (tool === "publish") {
      // Published read-only as the chosen app role (none: as the view is); a lookup page's settings stay.
      const enabled = (form.elements.namedItem("publish_enabled") as HTMLInputElement).checked;
      const role = (form.elements.namedItem("publish_role") as HTMLSelectElement).value;
      const before = typeof config.public === "object" && config.public !== null ? (config.public as Record<string, unknown>) : {};
      const publish: Record<string, unknown> = { ...before, enabled };
      if (role) publish.as_role = role;
      else delete publish.as_role;
      config.public = publish;
    } else if (tool === "rename-view") {
      name = (form.elements.namedItem("name") as HTMLInputElement).value.trim();
    }
    if (!this.schema.view) return this.create(form, t("js-default-view-name"), config);
    const outcome = await call("PATCH", `${this.base}/${encodeURIComponent(this.schema.view.id)}`, { name, type: this.viewType, config });
    if (outcome.ok) {
      location.reload();
      return;
    }
    if (outcome.status === 401) return toLogin();
    showError(form, outcome.error);
  }

  /** The shown view's type (`grid` when the table has no view yet). */
  private get viewType(): string {
    return this.schema.view?.type ?? "grid";
  }

  private async create(form: HTMLFormElement | null, name: string, config: Record<string, unknown>, type = "grid"): Promise<void> {
    const outcome = await call<{ id: string }>("POST", this.base, { name, type, config });
    if (outcome.ok) {
      location.assign(`${location.pathname}?view=${encodeURIComponent(outcome.body.id)}`);
      return;
    }
    if (outcome.status === 401) return toLogin();
    if (form) showError(form, outcome.error);
  }

  private async duplicate(): Promise<void> {
    const view = this.schema.view;
    if (!view) return;
    await this.create(null, t("js-copy-name", { name: view.name }), { ...view.config }, this.viewType);
  }
}
