// Calls to Tenon's REST API from the pages: same origin, session cookie, JSON in and out.

import type { ApiError } from "./i18n";

export type Outcome<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; error: ApiError }
  | { ok: false; status: 0; error: null };

export async function call<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Outcome<T>> {
  if (body === undefined) return send<T>(method, url, undefined, headers);
  return send<T>(method, url, JSON.stringify(body), { "content-type": "application/json", ...headers });
}

/** A call whose body is sent as it is (a file's bytes, with its own Content-Type); JSON comes back. */
export async function send<T = unknown>(
  method: string,
  url: string,
  body: BodyInit | undefined,
  headers: Record<string, string> = {},
): Promise<Outcome<T>> {
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: { accept: "application/json", ...headers },
    body,
  };
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch {
    return { ok: false, status: 0, error: null };
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (response.ok) return { ok: true, status: response.status, body: parsed as T };
  const error = (parsed as { error?: ApiError } | null)?.error;
  return {
    ok: false,
    status: response.status,
    error: error ?? { code: "internal", message: response.statusText, params: {}, details: [] },
  };
}

/** The session ended: go to the log-in page, which brings the person back here. */
export function toLogin(): void {
  const here = location.pathname + location.search;
  location.assign(here === "/" ? "/login" : `/login?next=${encodeURIComponent(here)}`);
}
