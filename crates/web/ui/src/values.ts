// Cell values between the API's JSON and what a person reads and types. Decimals stay strings all the
// way (never a JavaScript float); dates are the API's ISO text.

export interface Choice {
  id?: string;
  name: string;
  color: string;
}

export interface Field {
  id: string;
  key: string;
  name: string;
  type: string;
  options: Record<string, unknown>;
  required: boolean;
  position: number;
  result?: { type: string };
}

const COMPUTED = new Set([
  "formula", "lookup", "rollup", "count", "autonumber",
  "created_time", "created_by", "modified_time", "modified_by",
]);
/** Types the grid edits in place; the others are read-only here (edited in the record's detail). */
const EDITABLE = new Set([
  "text", "long_text", "number", "currency", "percent", "date", "datetime", "duration",
  "checkbox", "single_select", "rating", "email", "phone", "url",
]);
/** Types the grid edits with a searchable picker (values are `{id, name}` objects; the API takes ids). */
const PICKED = new Set(["member", "department", "link"]);
/** Types whose values are instants (RFC 3339 in UTC), shown in the field's or the organization's zone. */
const INSTANTS = new Set(["datetime", "created_time", "modified_time"]);

let organizationZone: string | undefined;

/** The organization's time zone (from the page), for date-times without a zone of their own. */
export function setTimeZone(zone: string | undefined): void {
  organizationZone = zone || undefined;
}

export function isPicked(field: Field): boolean {
  return PICKED.has(field.type);
}

/** Whether a picked field holds a list: links unless `multiple: false`; members and departments if `multiple`. */
export function isMultiple(field: Field): boolean {
  return field.type === "link" ? field.options.multiple !== false : field.options.multiple === true;
}

function isInstant(field: Field): boolean {
  return INSTANTS.has(field.type) || field.result?.type === "datetime";
}

/** The zone a date-time field is shown and typed in. */
export function zoneOf(field: Field): string | undefined {
  return typeof field.options.time_zone === "string" ? field.options.time_zone : organizationZone;
}

/** `2026-11-24T00:30:00Z` as `2026-11-24 08:30` in `zone` (seconds only when there are some). */
export function localDateTime(iso: string, zone: string | undefined): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone,
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).formatToParts(date);
  } catch {
    return iso;
  }
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const seconds = part("second") === "00" ? "" : `:${part("second")}`;
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}${seconds}`;
}

/** The ids of a picked value (`{id, name}` objects, or ids) as the API takes them. */
export function pickedIds(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value == null ? [] : [value];
  return list
    .map((item) => (item && typeof item === "object" ? String((item as { id?: unknown }).id ?? "") : String(item)))
    .filter(Boolean);
}

/** What the API is sent for picked ids: a list for links and multiple fields, else one id or `null`. */
export function pickedApiValue(field: Field, ids: string[]): unknown {
  if (field.type === "link" || isMultiple(field)) return ids;
  return ids[0] ?? null;
}

export function isComputed(field: Field): boolean {
  return COMPUTED.has(field.type);
}

export function isEditable(field: Field): boolean {
  return EDITABLE.has(field.type);
}

export function choices(field: Field): Choice[] {
  const list = field.options.choices;
  return Array.isArray(list) ? (list as Choice[]) : [];
}

/** The text a cell shows (and a copy puts on the clipboard). */
export function display(field: Field, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string" && isInstant(field) && /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/.test(value)) {
    return localDateTime(value, zoneOf(field));
  }
  if (typeof value === "boolean") return value ? "✓" : "";
  if (Array.isArray(value)) return value.map((item) => display(field, item)).join(", ");
  if (typeof value === "object") {
    const object = value as Record<string, unknown>;
    if ("error" in object) return `#${String(object.error)}`;
    return String(object.name ?? object.id ?? "");
  }
  return String(value);
}

/** The text an editor starts with. */
export function editText(field: Field, value: unknown): string {
  if (field.type === "checkbox") return value === true ? "true" : "";
  return display(field, value);
}

/** What the API is sent for typed text: `null` clears. Numbers go as strings, exactly as typed. */
export function toApi(field: Field, text: string): unknown {
  const trimmed = text.trim();
  if (field.type === "checkbox") return ["true", "1", "yes", "✓", "是", "x"].includes(trimmed.toLowerCase());
  if (trimmed === "") return null;
  switch (field.type) {
    case "number":
    case "currency":
    case "percent":
      // Thousands separators are a display habit, not part of the value.
      return trimmed.replace(/[,，\s]/g, "");
    case "rating":
      return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
    case "text":
    case "email":
    case "phone":
    case "url":
      return trimmed;
    default:
      return text;
  }
}

/** A parsed TSV clipboard (Excel and WPS quote cells holding tabs, line breaks or quotes). */
export function parseTsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"' && cell === "") {
      quoted = true;
    } else if (ch === "\t") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += ch;
    }
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

export function toTsv(rows: string[][]): string {
  const quote = (cell: string) => (/[\t\n\r"]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
  return rows.map((row) => row.map(quote).join("\t")).join("\r\n");
}
