// Tenon's islands: one bundle, each island mounted on the elements that name it with `data-island`.

import { call } from "./api";
import { initApiForm } from "./forms";
import { initBuilder } from "./builder";
import { initGrid, tableSchema } from "./grid";
import { initLogin } from "./login";
import { ViewTools } from "./views";
import { initAdmin } from "./admin";
import { initBoard } from "./boards";
import { initViewSettings } from "./view_settings";
import { initDesigner } from "./designer";
import { initAddWidget, initDashboard, initNewDashboard } from "./dashboard";
import { initWidgetTools } from "./dashboard_edit";

const LANG_COOKIE = "tenon_lang";

function initLanguage(select: HTMLSelectElement): void {
  select.addEventListener("change", () => {
    document.cookie = `${LANG_COOKIE}=${encodeURIComponent(select.value)}; Path=/; Max-Age=31536000; SameSite=Lax`;
    location.reload();
  });
}

function initDialogs(): void {
  document.addEventListener("click", (event) => {
    const target = event.target as HTMLElement | null;
    const opener = target?.closest<HTMLElement>("[data-open]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.open ?? "");
      if (dialog instanceof HTMLDialogElement) {
        dialog.showModal();
        dialog.querySelector<HTMLElement>("input, select, textarea")?.focus();
      }
      return;
    }
    const closer = target?.closest<HTMLElement>("[data-close]");
    closer?.closest("dialog")?.close();
  });
}

function initSessionButtons(): void {
  document.querySelectorAll<HTMLButtonElement>("[data-action=logout]").forEach((button) => {
    button.addEventListener("click", async () => {
      await call("POST", "/api/v1/auth/logout");
      location.assign("/login");
    });
  });
  document.querySelectorAll<HTMLButtonElement>("[data-action=switch-organization]").forEach((button) => {
    button.addEventListener("click", async () => {
      // Switching asks for the password again: end this session, then log in choosing another organization.
      const me = await call<{ member?: { email?: string } }>("GET", "/api/v1/me");
      const email = me.ok ? (me.body.member?.email ?? "") : "";
      await call("POST", "/api/v1/auth/logout");
      location.assign(`/login?email=${encodeURIComponent(email)}`);
    });
  });
}

function mount(): void {
  document.querySelectorAll<HTMLSelectElement>("select[data-island=language]").forEach(initLanguage);
  document.querySelectorAll<HTMLFormElement>("form[data-island=login]").forEach(initLogin);
  document.querySelectorAll<HTMLFormElement>("form[data-island=api-form]").forEach(initApiForm);
  document.querySelectorAll<HTMLElement>("[data-island=grid]").forEach(initGrid);
  document.querySelectorAll<HTMLElement>("[data-island=form-designer]").forEach(initDesigner);
  document.querySelectorAll<HTMLElement>("[data-island=dashboard]").forEach((root) => {
    initDashboard(root);
    initWidgetTools(root);
  });
  document.querySelectorAll<HTMLFormElement>("form[data-island=new-dashboard]").forEach(initNewDashboard);
  document.querySelectorAll<HTMLFormElement>("form[data-island=add-widget]").forEach(initAddWidget);
  const schema = tableSchema();
  if (schema) {
    const base = `/api/v1/apps/${encodeURIComponent(schema.app)}/tables/${encodeURIComponent(schema.table)}`;
    initBuilder(document.body, schema.fields, base);
    if (schema.can_build) new ViewTools(schema);
    if (schema.can_build) document.querySelectorAll<HTMLFormElement>("form[data-island=view-settings]").forEach((form) => initViewSettings(form, schema));
    document.querySelectorAll<HTMLElement>("[data-island=board]").forEach((root) => initBoard(root, schema));
  }
  initAdmin();
  initDialogs();
  initSessionButtons();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
