// Forms that write through the REST API: `<form data-island="api-form" data-method data-url>`.
// Named inputs become the JSON body; on success the page follows `data-redirect` (`{id}` filled from the
// answer) or reloads; on failure the translated reason appears in the form and next to each field, and
// everything typed stays where it was.

import { call, toLogin } from "./api";
import { detailReason, errorMessage, t, type ApiError } from "./i18n";

function fieldLabel(form: HTMLFormElement, name: string): string {
  const input = form.querySelector<HTMLElement>(`[name="${CSS.escape(name)}"]`);
  if (input?.id) {
    const label = form.querySelector(`label[for="${CSS.escape(input.id)}"]`);
    if (label?.textContent) return label.textContent.trim();
  }
  return name;
}

export function clearErrors(form: HTMLFormElement): void {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  const box = form.querySelector<HTMLElement>(".form-error");
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
}

export function showError(form: HTMLFormElement, error: ApiError | null): void {
  clearErrors(form);
  const box = form.querySelector<HTMLElement>(".form-error");
  const lines: string[] = [];
  if (error === null) {
    lines.push(t("js-offline"));
  } else {
    lines.push(errorMessage(error));
    for (const detail of error.details) {
      const input = form.querySelector<HTMLElement>(`[name="${CSS.escape(detail.field)}"]`);
      const reason = detailReason(detail);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        const note = document.createElement("span");
        note.className = "field-error";
        note.id = `${input.id || detail.field}-error`;
        note.textContent = reason;
        input.setAttribute("aria-describedby", note.id);
        input.insertAdjacentElement("afterend", note);
      } else {
        lines.push(t("js-error-field", { field: fieldLabel(form, detail.field), reason }));
      }
    }
  }
  if (box) {
    box.textContent = lines.join(" ");
    box.hidden = false;
  }
  const first = form.querySelector<HTMLElement>("[aria-invalid=true]");
  first?.focus();
}

function bodyOf(form: HTMLFormElement): Record<string, unknown> | undefined {
  const body: Record<string, unknown> = {};
  let any = false;
  for (const element of Array.from(form.elements)) {
    if (!(element instanceof HTMLInputElement || element instanceof HTMLSelectElement || element instanceof HTMLTextAreaElement)) continue;
    if (!element.name || element.disabled) continue;
    any = true;
    const kind = element.dataset.type;
    if (kind === "array" && element instanceof HTMLInputElement) {
      // Checkboxes sharing a name: the values of the ticked ones.
      const list = (body[element.name] as unknown[] | undefined) ?? [];
      if (element.checked) list.push(element.value);
      body[element.name] = list;
    } else if (kind === "list") {
      body[element.name] = element.value.split(/[,，\s]+/).map((part) => part.trim()).filter(Boolean);
    } else if (element instanceof HTMLInputElement && element.type === "checkbox") {
      body[element.name] = element.checked;
    } else if (kind === "number") {
      body[element.name] = element.value === "" ? null : Number(element.value);
    } else if (kind === "optional" && element.value === "") {
      continue;
    } else {
      body[element.name] = element.value;
    }
  }
  return any ? body : undefined;
}

function fill(template: string, answer: unknown): string {
  return template.replace(/\{([a-z_]+)\}/g, (_, key: string) => {
    const value = (answer as Record<string, unknown> | null)?.[key];
    return value === undefined || value === null ? "" : encodeURIComponent(String(value));
  });
}

/** A failed follow-up write: its status and error (null when Tenon could not be reached). */
export interface Failed {
  status: number;
  error: ApiError | null;
}

/** Follow-up writes a page registers for a form, run after its own write succeeded. */
export const afterSave = new WeakMap<HTMLFormElement, (answer: unknown) => Promise<Failed | null>>();

export function initApiForm(form: HTMLFormElement): void {
  const confirmName = form.dataset.confirm;
  const confirmInput = form.querySelector<HTMLInputElement>("[data-confirm-input]");
  const submit = form.querySelector<HTMLButtonElement>("button[type=submit]");
  if (confirmName !== undefined && confirmInput && submit) {
    const update = () => {
      submit.disabled = confirmInput.value.trim() !== confirmName;
    };
    confirmInput.addEventListener("input", update);
    update();
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit?.disabled) return;
    if (submit) submit.disabled = true;
    const method = form.dataset.method ?? "POST";
    const url = form.dataset.url ?? "";
    const outcome = await call(method, url, method === "DELETE" ? undefined : bodyOf(form));
    if (outcome.ok) {
      // A page's own follow-up writes (a member's positions after the member): their failure keeps the form open.
      const after = afterSave.get(form);
      const failed = after ? await after(outcome.body) : null;
      if (submit) submit.disabled = false;
      if (failed !== null) {
        if (failed.status === 401) return toLogin();
        showError(form, failed.error);
        return;
      }
      const shown = form.dataset.show;
      if (shown) {
        // A secret the API shows once: keep the dialog open on it until the person is done.
        const secret = form.querySelector<HTMLElement>(".secret");
        const values = Array.from(form.querySelectorAll<HTMLElement>(".secret-value"));
        const body = outcome.body as Record<string, unknown> | null;
        if (secret && values.length) {
          // Each output shows the answer's key it names (`data-key`), else the one the form shows.
          for (const value of values) value.textContent = String(body?.[value.dataset.key ?? shown] ?? "");
          secret.hidden = false;
          form.querySelectorAll<HTMLElement>("button[type=submit], [data-close]").forEach((node) => (node.hidden = true));
          const reload = form.querySelector<HTMLButtonElement>("[data-reload]");
          if (reload) {
            reload.hidden = false;
            reload.addEventListener("click", () => location.reload());
            reload.focus();
          }
          return;
        }
      }
      const done = form.dataset.done;
      if (done) {
        // Stay on the page: close the dialog, forget what was typed (a password), say it worked.
        form.reset();
        form.closest("dialog")?.close();
        const status = document.getElementById("save-status");
        if (status) status.textContent = t(done);
        return;
      }
      const redirect = form.dataset.redirect;
      if (redirect) location.assign(fill(redirect, outcome.body));
      else location.reload();
      return;
    }
    if (submit) submit.disabled = false;
    if (outcome.status === 401) {
      toLogin();
      return;
    }
    showError(form, outcome.error);
  });
}
