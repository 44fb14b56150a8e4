// The log-in form: posts to /api/v1/auth/login; offers the organizations when the address belongs to
// several; says how long to wait after too many failures; then opens the page the person wanted.

import { call } from "./api";
import { showError, clearErrors } from "./forms";
import type { ApiError } from "./i18n";

export function initLogin(form: HTMLFormElement): void {
  const chooser = form.querySelector<HTMLElement>(".org-chooser");
  const buttons = form.querySelector<HTMLElement>(".org-buttons");
  const next = form.dataset.next ?? "/";

  async function logIn(organization?: string): Promise<void> {
    const email = (form.elements.namedItem("email") as HTMLInputElement).value;
    const password = (form.elements.namedItem("password") as HTMLInputElement).value;
    const body: Record<string, string> = { email, password };
    if (organization) body.organization = organization;
    const outcome = await call("POST", "/api/v1/auth/login", body);
    if (outcome.ok) {
      location.assign(next);
      return;
    }
    if (outcome.error?.code === "organization_required" && chooser && buttons) {
      clearErrors(form);
      showChooser(outcome.error);
      return;
    }
    showError(form, outcome.error);
  }

  function showChooser(error: ApiError): void {
    if (!chooser || !buttons) return;
    buttons.replaceChildren();
    for (const detail of error.details) {
      const id = String(detail.params.id ?? "");
      const name = String(detail.params.name ?? id);
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = name;
      // An organization's name is its own (user data), in whatever language it was given.
      button.dataset.userContent = "";
      button.addEventListener("click", () => void logIn(id));
      buttons.append(button);
    }
    chooser.hidden = false;
    buttons.querySelector("button")?.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void logIn();
  });
}
