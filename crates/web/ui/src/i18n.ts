// Catalog messages handed over by the page (a JSON data block, not a script), and API error translation.

type Messages = Record<string, string>;

let cache: Messages | null = null;

function messages(): Messages {
  if (cache === null) {
    const block = document.getElementById("tenon-messages");
    try {
      cache = block?.textContent ? (JSON.parse(block.textContent) as Messages) : {};
    } catch {
      cache = {};
    }
  }
  return cache;
}

/** A catalog message with `{ $name }` placeholders filled in; `null` when the catalog lacks the key. */
export function lookup(key: string, params: Record<string, unknown> = {}): string | null {
  const text = messages()[key];
  if (text === undefined) return null;
  return text.replace(/\{ \$([a-z_]+) \}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === null) return "";
    return Array.isArray(value) ? value.join(", ") : String(value);
  });
}

/** A message the islands need (`js-*`); the key itself if missing (a test keeps that from happening). */
export function t(key: string, params: Record<string, unknown> = {}): string {
  return lookup(key, params) ?? key;
}

export interface ErrorDetail {
  field: string;
  code: string;
  params: Record<string, unknown>;
  reason: string;
}

export interface ApiError {
  code: string;
  message: string;
  params: Record<string, unknown>;
  details: ErrorDetail[];
}

/** The error's message in the page's language (the English one if the code is new to the catalog). */
export function errorMessage(error: ApiError): string {
  const params = { ...error.params };
  // An app role's action (`create`…) is named in words.
  if (typeof params.action === "string") params.action = lookup(`js-action-${params.action}`) ?? params.action;
  return lookup(`error-${error.code}`, params) ?? error.message;
}

/** One detail's reason in the page's language (a `format` parameter named in it too). */
export function detailReason(detail: ErrorDetail): string {
  const params = { ...detail.params };
  if (typeof params.format === "string") params.format = lookup(`js-format-${params.format}`) ?? params.format;
  return lookup(`detail-${detail.code}`, params) ?? detail.reason;
}
