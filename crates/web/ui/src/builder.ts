// The table builder: the field dialog (name, type, required, unique, default, and the type's options:
// choices with colours, precision, currency, bounds, lengths, pattern, link target and inverse, lookup and
// rollup, autonumber, rating, a date's time zone, an attachment's file types and size) and the field list (edit, move up/down — the keyboard way to reorder — and
// delete). Changing a field's type first asks the server what the change would clear, and says so.
// Emptying an option's input removes the option: an edit sends it as `null` (the API then applies the
// type's default), so a saved field no longer has a bound, pattern or limit that was cleared.

import { call, toLogin } from "./api";
import { showError } from "./forms";
import { FormulaEditor } from "./formula";
import { t } from "./i18n";
import { toApi, type Field } from "./values";

const CHOICE_TYPES = new Set(["single_select", "multi_select"]);
const NUMBER_TYPES = new Set(["number", "currency", "percent"]);
const BOUNDED_TYPES = new Set(["number", "currency", "percent", "duration"]);
const ZONED_TYPES = new Set(["date", "datetime", "created_time", "modified_time"]);
/** Options the dialog has an input for, which emptying that input removes. */
const CLEARABLE = new Set([
  "precision", "currency", "min", "max", "min_length", "max_length", "pattern", "prefix", "date_pattern", "digits",
  "time_zone", "types", "max_size_mb",
]);

interface FieldWithRules extends Field {
  unique?: boolean;
  default?: unknown;
}

export function initBuilder(root: HTMLElement, fields: Field[], base: string): void {
  const dialog = root.querySelector<HTMLDialogElement>("#field-dialog");
  if (!dialog) return;
  const form = dialog.querySelector<HTMLFormElement>("form")!;
  const input = <T extends HTMLElement = HTMLInputElement>(name: string) => form.querySelector<T>(`[name="${name}"]`)!;
  const type = input<HTMLSelectElement>("type");
  const name = input("name");
  const required = input("required");
  const choiceList = form.querySelector<HTMLElement>(".choice-list")!;
  const choiceTemplate = form.querySelector<HTMLTemplateElement>("template.choice-row")!;
  const precision = input("precision");
  const currency = input("currency");
  const linkTable = input<HTMLSelectElement>("link_table");
  const multiple = input("options.multiple");
  const inverseName = input("options.inverse_name");
  const inverseMultiple = input("options.inverse_multiple");
  const lookupLink = input<HTMLSelectElement>("options.link");
  const lookupField = input<HTMLSelectElement>("options.field");
  const rollupFunction = input<HTMLSelectElement>("options.function");
  const prefix = input("options.prefix");
  const datePattern = input<HTMLSelectElement>("options.date_pattern");
  const digits = input("options.digits");
  const example = form.querySelector<HTMLElement>(".autonumber-example")!;
  const ratingMax = input("rating_max");
  const min = input("options.min");
  const max = input("options.max");
  const minLength = input("options.min_length");
  const maxLength = input("options.max_length");
  const pattern = input("options.pattern");
  const timeZone = input("options.time_zone");
  const fileTypes = input("options.types");
  const maxSize = input("options.max_size_mb");
  // The zones the browser knows, offered as suggestions (the server checks the name either way).
  const zoneList = form.querySelector<HTMLDataListElement>("#field-time-zones");
  const supported = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  if (zoneList && supported) {
    zoneList.replaceChildren(...supported("timeZone").map((zone) => {
      const option = document.createElement("option");
      option.value = zone;
      return option;
    }));
  }
  const unique = input("unique");
  const fallback = input("default");
  const formulaBox = input<HTMLTextAreaElement>("formula");
  const change = form.querySelector<HTMLElement>(".type-change")!;
  const changeWarning = change.querySelector<HTMLElement>(".type-change-warning")!;
  const changeConfirm = change.querySelector<HTMLElement>(".type-change-confirm")!;
  const changeBox = changeConfirm.querySelector<HTMLInputElement>("input")!;
  const save = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
  const heading = dialog.querySelector<HTMLElement>(".field-dialog-title")!;
  let editing: FieldWithRules | null = null;
  let checks = 0;
  let checkTimer: number | undefined;
  /** What the last check said would be cleared (a new count needs a new confirmation). */
  let lastCleared = -1;
  const formula = new FormulaEditor(formulaBox, fields, base, () => saveState());

  /** Save is disabled while a formula is invalid or a type change that clears values is not confirmed. */
  function saveState(): void {
    const formulaBad = type.value === "formula" && !formula.valid;
    const unconfirmed = !changeConfirm.hidden && !changeBox.checked;
    save.disabled = formulaBad || unconfirmed;
  }

  function sections(): void {
    form.querySelectorAll<HTMLElement>("[data-types]").forEach((section) => {
      const shown = section.dataset.types!.split(" ").includes(type.value);
      // The inverse of a link is set when the link is made.
      section.hidden = !shown || (section.hasAttribute("data-new-only") && editing !== null);
    });
    if (type.value === "formula") formula.check();
    if (["lookup", "rollup", "count"].includes(type.value)) fillLinks();
    if (type.value === "autonumber") showExample();
    void checkTypeChange();
    saveState();
  }

  // ---- lookup and rollup: the link field, then a field of its table ----

  function fillLinks(): void {
    const links = fields.filter((f) => f.type === "link" && f.key !== editing?.key);
    const wanted = lookupLink.value || String(editing?.options?.link ?? "");
    lookupLink.replaceChildren(...links.map((f) => new Option(f.name, f.key)));
    if (links.some((f) => f.key === wanted)) lookupLink.value = wanted;
    form.querySelector<HTMLElement>("[data-no-links]")!.hidden = links.length > 0;
    void fillTargetFields();
  }

  // Each fill is numbered: an answer that arrives after a newer fill started is dropped, so a slow
  // earlier answer never replaces the options (and the choice) of a later one.
  let fills = 0;

  async function fillTargetFields(): Promise<void> {
    const mine = ++fills;
    const link = fields.find((f) => f.key === lookupLink.value);
    const wanted = lookupField.value || String(editing?.options?.field ?? "");
    lookupField.replaceChildren();
    if (!link || type.value === "count") return;
    const app = base.replace(/\/tables\/[^/]+$/, "");
    const outcome = await call<{ items: Field[] }>("GET", `${app}/tables/${encodeURIComponent(String(link.options.table ?? ""))}/fields`);
    if (!outcome.ok || mine !== fills) return;
    // A lookup or rollup may read any field of the linked table except a formula computed when read.
    lookupField.replaceChildren(...outcome.body.items.map((f) => new Option(`${f.name} · ${t(`field-type-${f.type}`)}`, f.key)));
    if (outcome.body.items.some((f) => f.key === wanted)) lookupField.value = wanted;
  }

  lookupLink.addEventListener("change", () => void fillTargetFields());

  // ---- autonumber: an example of the numbers it makes ----

  function showExample(): void {
    const now = new Date();
    const pad = (n: number, width = 2) => String(n).padStart(width, "0");
    const y = String(now.getFullYear());
    const date: Record<string, string> = {
      YYYYMMDD: `${y}${pad(now.getMonth() + 1)}${pad(now.getDate())}`,
      YYYYMM: `${y}${pad(now.getMonth() + 1)}`,
      YYYY: y,
      YYMMDD: `${y.slice(2)}${pad(now.getMonth() + 1)}${pad(now.getDate())}`,
    };
    const width = Math.max(1, Math.min(12, Number(digits.value || 4)));
    // As the server writes them: prefix, then the date and a dash, then the counter.
    const day = date[datePattern.value];
    const text = `${prefix.value.trim()}${day ? `${day}-` : ""}${pad(1, width)}`;
    example.textContent = t("js-autonumber-example", { example: text });
  }

  for (const element of [prefix, digits, datePattern]) element.addEventListener("input", showExample);

  // ---- a type change: how many values it would clear, asked of the server (nothing is saved) ----

  async function checkTypeChange(): Promise<void> {
    const mine = ++checks;
    if (!editing || editing.type === type.value) {
      change.hidden = true;
      changeConfirm.hidden = true;
      lastCleared = -1;
      return saveState();
    }
    const body: Record<string, unknown> = { type: type.value };
    const options = optionsFor(type.value);
    if (Object.keys(options).length) body.options = options;
    const outcome = await call<{ cleared_values: number }>("POST", `${base}/fields/${encodeURIComponent(editing.key)}/check`, body);
    if (mine !== checks) return;
    const typeName = t(`field-type-${type.value}`);
    if (outcome.ok) {
      const count = outcome.body.cleared_values;
      if (count !== lastCleared) changeBox.checked = false;
      lastCleared = count;
      changeWarning.textContent = count ? t("js-type-change-some", { type: typeName, count }) : t("js-type-change-none", { type: typeName });
      changeConfirm.hidden = count === 0;
      changeConfirm.querySelector("label")!.textContent = t("js-type-change-confirm", { count });
      change.classList.toggle("danger", count > 0);
    } else if (outcome.status === 401) {
      return toLogin();
    } else {
      // The change itself is refused (a link, a field others read, options still missing): saving says why.
      change.hidden = true;
      changeConfirm.hidden = true;
      return saveState();
    }
    change.hidden = false;
    saveState();
  }

  changeBox.addEventListener("change", saveState);
  // The new type's options (choices, precision…) decide what converts: ask again as they are edited.
  form.addEventListener("input", (event) => {
    if (event.target === changeBox || event.target === name || event.target === formulaBox) return;
    window.clearTimeout(checkTimer);
    checkTimer = window.setTimeout(() => void checkTypeChange(), 300);
  });

  // ---- choices ----

  function addChoice(value = "", color = ""): void {
    const row = choiceTemplate.content.firstElementChild!.cloneNode(true) as HTMLElement;
    const index = choiceList.children.length;
    const choice = row.querySelector<HTMLInputElement>("input")!;
    choice.value = value;
    choice.id = `choice-${index}`;
    row.querySelector("label")!.htmlFor = choice.id;
    const colors = row.querySelector<HTMLSelectElement>("select")!;
    colors.id = `choice-color-${index}`;
    if (color) colors.value = color;
    else colors.selectedIndex = index % colors.options.length;
    row.querySelector<HTMLButtonElement>("[data-remove]")!.addEventListener("click", () => row.remove());
    choiceList.append(row);
    choice.focus();
  }

  form.querySelector<HTMLButtonElement>("[data-action=add-option]")!.addEventListener("click", () => addChoice());
  type.addEventListener("change", () => {
    if (CHOICE_TYPES.has(type.value) && choiceList.children.length === 0) addChoice();
    if (!editing) multiple.checked = type.value === "link";
    sections();
  });

  function setValue(element: HTMLInputElement, value: unknown): void {
    element.value = value === undefined || value === null ? "" : String(value);
  }

  function open(field: FieldWithRules | null): void {
    editing = field;
    form.reset();
    choiceList.replaceChildren();
    heading.textContent = heading.dataset[field ? "edit" : "add"] ?? "";
    formula.exclude(field?.key ?? null);
    lookupLink.value = "";
    lookupField.replaceChildren();
    lastCleared = -1;
    if (field) {
      name.value = field.name;
      type.value = field.type;
      required.checked = field.required;
      unique.checked = field.unique === true;
      setValue(fallback, Array.isArray(field.default) ? field.default.join(", ") : field.default);
      const options = field.options ?? {};
      if (Array.isArray(options.choices)) {
        for (const choice of options.choices as { name: string; color: string }[]) addChoice(choice.name, choice.color);
      }
      if (typeof options.precision === "number") precision.value = String(options.precision);
      if (typeof options.currency === "string") currency.value = options.currency;
      if (typeof options.formula === "string") formulaBox.value = options.formula;
      if (typeof options.table === "string") linkTable.value = options.table;
      multiple.checked = field.type === "link" ? options.multiple !== false : options.multiple === true;
      if (field.type === "rating") setValue(ratingMax, options.max);
      else {
        setValue(min, options.min);
        setValue(max, options.max);
      }
      setValue(minLength, options.min_length);
      setValue(maxLength, options.max_length);
      setValue(pattern, options.pattern);
      setValue(prefix, options.prefix);
      datePattern.value = typeof options.date_pattern === "string" ? options.date_pattern : "";
      setValue(digits, options.digits);
      if (typeof options.function === "string") rollupFunction.value = options.function;
      setValue(timeZone, options.time_zone);
      setValue(fileTypes, Array.isArray(options.types) ? options.types.join(", ") : "");
      setValue(maxSize, options.max_size_mb);
    } else {
      multiple.checked = type.value === "link";
      if (CHOICE_TYPES.has(type.value)) addChoice();
    }
    sections();
    dialog!.showModal();
    name.focus();
  }

  /** The options the form holds for `kind` (empty inputs left out: the API keeps or defaults them). */
  function optionsFor(kind: string): Record<string, unknown> {
    const options: Record<string, unknown> = {};
    const text = (element: HTMLInputElement) => element.value.trim();
    const whole = (element: HTMLInputElement) => (text(element) === "" ? undefined : Number(text(element)));
    if (CHOICE_TYPES.has(kind)) {
      options.choices = Array.from(choiceList.querySelectorAll<HTMLElement>(".choice")).map((row) => ({
        name: row.querySelector<HTMLInputElement>("input")!.value,
        color: row.querySelector<HTMLSelectElement>("select")!.value,
      }));
    }
    if (NUMBER_TYPES.has(kind) && precision.value !== "") options.precision = Number(precision.value);
    if (kind === "currency" && currency.value) options.currency = currency.value.trim().toUpperCase();
    if (BOUNDED_TYPES.has(kind)) {
      // Decimals stay text, exactly as typed; durations are whole seconds.
      if (text(min)) options.min = kind === "duration" ? Number(text(min)) : text(min);
      if (text(max)) options.max = kind === "duration" ? Number(text(max)) : text(max);
    }
    if (kind === "text" || kind === "long_text") {
      if (whole(minLength) !== undefined) options.min_length = whole(minLength);
      if (whole(maxLength) !== undefined) options.max_length = whole(maxLength);
    }
    if (kind === "text" && text(pattern)) options.pattern = pattern.value;
    if (kind === "rating" && whole(ratingMax) !== undefined) options.max = whole(ratingMax);
    if (kind === "member" || kind === "department" || kind === "link") options.multiple = multiple.checked;
    if (kind === "formula") options.formula = formulaBox.value;
    if (kind === "link" && !editing) {
      options.table = linkTable.value;
      if (text(inverseName)) options.inverse_name = text(inverseName);
      options.inverse_multiple = inverseMultiple.checked;
    }
    if (["lookup", "rollup", "count"].includes(kind) && lookupLink.value) options.link = lookupLink.value;
    if ((kind === "lookup" || kind === "rollup") && lookupField.value) options.field = lookupField.value;
    if (kind === "rollup") options.function = rollupFunction.value;
    if (ZONED_TYPES.has(kind) && text(timeZone)) options.time_zone = text(timeZone);
    if (kind === "attachment") {
      const types = fileTypes.value.split(/[,，、\s]+/).map((type) => type.trim()).filter(Boolean);
      if (types.length) options.types = types;
      if (whole(maxSize) !== undefined) options.max_size_mb = whole(maxSize);
    }
    if (kind === "autonumber") {
      if (text(prefix)) options.prefix = text(prefix);
      if (datePattern.value) options.date_pattern = datePattern.value;
      if (whole(digits) !== undefined) options.digits = whole(digits);
    }
    return options;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    const kind = type.value;
    const body: Record<string, unknown> = { name: name.value, required: required.checked };
    if (!editing || editing.type !== kind) body.type = kind;
    if (!unique.closest<HTMLElement>("[data-types]")!.hidden) {
      if (!editing || unique.checked !== (editing.unique === true)) body.unique = unique.checked;
      const typed = fallback.value.trim();
      const like = { ...(editing ?? {}), type: kind, options: {} } as Field;
      if (typed) body.default = toApi(like, typed);
      else if (editing && editing.default !== undefined && editing.default !== null) body.default = null;
    }
    const options = optionsFor(kind);
    if (editing && editing.type === kind && kind !== "link") {
      // An option the field has that the form now leaves empty is removed.
      for (const key of Object.keys(editing.options ?? {})) {
        if (CLEARABLE.has(key) && !(key in options)) options[key] = null;
      }
    }
    if (Object.keys(options).length) body.options = options;
    const url = editing ? `${base}/fields/${encodeURIComponent(editing.key)}` : `${base}/fields`;
    const outcome = await call(editing ? "PATCH" : "POST", url, body);
    if (outcome.ok) {
      location.reload();
      return;
    }
    if (outcome.status === 401) return toLogin();
    showError(form, outcome.error);
  });

  root.querySelectorAll<HTMLButtonElement>("[data-action=add-field]").forEach((button) =>
    button.addEventListener("click", () => open(null)),
  );
  root.querySelectorAll<HTMLButtonElement>("[data-action=edit-field]").forEach((button) =>
    button.addEventListener("click", () => open(fields.find((f) => f.key === button.dataset.field) ?? null)),
  );
  root.querySelectorAll<HTMLButtonElement>("[data-action=move-field]").forEach((button) =>
    button.addEventListener("click", async () => {
      const index = fields.findIndex((f) => f.key === button.dataset.field);
      const other = fields[index + Number(button.dataset.by)];
      if (index < 0 || !other) return;
      // Swap the two positions.
      const field = fields[index];
      const first = await call("PATCH", `${base}/fields/${encodeURIComponent(field.key)}`, { position: other.position });
      const second = first.ok
        ? await call("PATCH", `${base}/fields/${encodeURIComponent(other.key)}`, { position: field.position })
        : first;
      if (first.status === 401 || second.status === 401) toLogin();
      else location.reload();
    }),
  );
}
