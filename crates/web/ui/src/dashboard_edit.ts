// Editing a dashboard's widgets on its page (builders only): "Edit widget" opens a dialog with the title,
// the width and the settings of the widget's type (its type and anything the dialog does not show, such as
// a filter, are kept as written), "Remove widget" in that dialog drops it, and "Move up" / "Move down" on
// each widget reorder the grid. Every change reads the dashboard, changes its widget list and writes it
// back whole (PUT); the server checks it, so a refusal (422) is shown where the change was asked for and
// nothing is stored.

import { call, type Outcome } from "./api";
import { showError } from "./forms";
import { errorMessage, t, type ApiError } from "./i18n";

type WidgetSource = Record<string, unknown> & { key: string; type: string; title: string };

interface DashboardDoc {
  name: string;
  widgets: WidgetSource[];
}

type Input = HTMLInputElement | HTMLSelectElement;

/** The grid columns a widget takes when it does not say (as the server's default). */
function defaultWidth(type: string): number {
  if (type === "number" || type === "ledger") return 3;
  return type === "records" ? 12 : 6;
}

/** Reads the dashboard as written, changes its widgets and writes it back. */
async function rewrite(url: string, change: (widgets: WidgetSource[]) => WidgetSource[]): Promise<Outcome<unknown>> {
  const current = await call<DashboardDoc>("GET", url);
  if (!current.ok) return current;
  return call("PUT", url, { name: current.body.name, widgets: change(current.body.widgets) });
}

/** A refusal's details name `widgets[i].title`; the dialog's inputs are named `title`. */
function forTheDialog(error: ApiError | null): ApiError | null {
  if (!error) return error;
  return { ...error, details: error.details.map((detail) => ({ ...detail, field: detail.field.replace(/^widgets\[\d+\]\./, "") })) };
}

function say(text: string): void {
  const status = document.getElementById("save-status");
  if (status) status.textContent = text;
}

export function initWidgetTools(root: HTMLElement): void {
  const dialog = document.getElementById("edit-widget-dialog");
  const form = dialog?.querySelector<HTMLFormElement>("form[data-island=edit-widget]");
  if (!(dialog instanceof HTMLDialogElement) || !form) return;
  const url = `/api/v1/apps/${encodeURIComponent(root.dataset.app ?? "")}/dashboards/${encodeURIComponent(root.dataset.key ?? "")}`;
  let editing: WidgetSource | null = null;

  /** The inputs the widget's type takes (the others hidden and disabled, so they are not read). */
  const inputs = (): Input[] =>
    Array.from(form.querySelectorAll<Input>("input[name], select[name]")).filter((input) => !input.disabled);

  const show = (type: string) => {
    form.querySelectorAll<HTMLElement>("[data-for]").forEach((wrapper) => {
      const shown = (wrapper.dataset.for ?? "").split(" ").includes(type);
      wrapper.hidden = !shown;
      wrapper.querySelectorAll<Input>("input, select").forEach((input) => (input.disabled = !shown));
    });
  };

  const fill = (widget: WidgetSource) => {
    for (const input of inputs()) {
      const value = widget[input.name];
      if (input instanceof HTMLInputElement && input.type === "checkbox") {
        input.checked = value === true;
      } else if (input.name === "width") {
        input.value = String(typeof value === "number" ? value : defaultWidth(widget.type));
      } else if (Array.isArray(value)) {
        input.value = value.map(String).join(", ");
      } else {
        input.value = value === undefined || value === null ? "" : String(value);
        // A select shows a value it offers; otherwise its first option (a ledger period's default).
        if (input instanceof HTMLSelectElement && input.selectedIndex < 0) input.selectedIndex = 0;
      }
    }
  };

  /** The widget as the dialog now says: its source, with each shown setting replaced (or dropped when empty). */
  const edited = (widget: WidgetSource): WidgetSource => {
    const next: WidgetSource = { ...widget };
    for (const input of inputs()) {
      const name = input.name;
      const text = input.value.trim();
      if (input instanceof HTMLInputElement && input.type === "checkbox") {
        if (input.checked) next[name] = true;
        else delete next[name];
      } else if (input instanceof HTMLInputElement && input.type === "number") {
        if (text === "") delete next[name];
        else next[name] = Number(text);
      } else if (input.dataset.type === "list") {
        const items = text.split(/[,，\s]+/).map((item) => item.trim()).filter(Boolean);
        if (items.length > 0) next[name] = items;
        else delete next[name];
      } else if (text === "") {
        delete next[name];
      } else {
        next[name] = text;
      }
    }
    return next;
  };

  const open = async (key: string) => {
    const current = await call<DashboardDoc>("GET", url);
    if (!current.ok) return say(current.error ? errorMessage(current.error) : t("js-offline"));
    const widget = current.body.widgets.find((item) => item.key === key);
    if (!widget) return location.reload();
    editing = widget;
    form.reset();
    show(widget.type);
    fill(widget);
    form.querySelectorAll(".field-error").forEach((node) => node.remove());
    form.querySelector<HTMLElement>(".form-error")?.setAttribute("hidden", "");
    dialog.showModal();
    form.querySelector<HTMLInputElement>("input[name=title]")?.focus();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const widget = editing;
    if (!widget) return;
    const outcome = await rewrite(url, (widgets) => widgets.map((item) => (item.key === widget.key ? edited(item) : item)));
    if (outcome.ok) location.reload();
    else showError(form, forTheDialog(outcome.error));
  });

  form.querySelector<HTMLButtonElement>("[data-remove-widget]")?.addEventListener("click", async () => {
    const widget = editing;
    if (!widget) return;
    const outcome = await rewrite(url, (widgets) => widgets.filter((item) => item.key !== widget.key));
    if (outcome.ok) location.reload();
    else showError(form, outcome.error);
  });

  /** Moves a widget one place and the page with it, keeping the focus on the button pressed. */
  const move = async (region: HTMLElement, button: HTMLButtonElement, by: -1 | 1) => {
    const key = region.dataset.widget ?? "";
    const outcome = await rewrite(url, (widgets) => {
      const from = widgets.findIndex((item) => item.key === key);
      const to = from + by;
      if (from < 0 || to < 0 || to >= widgets.length) return widgets;
      const moved = [...widgets];
      [moved[from], moved[to]] = [moved[to], moved[from]];
      return moved;
    });
    if (!outcome.ok) return say(outcome.error ? errorMessage(outcome.error) : t("js-offline"));
    const sibling = by < 0 ? region.previousElementSibling : region.nextElementSibling;
    if (sibling) region.parentElement?.insertBefore(region, by < 0 ? sibling : sibling.nextElementSibling);
    const regions = Array.from(root.querySelectorAll<HTMLElement>(":scope > [data-widget]"));
    regions.forEach((item, index) => {
      const up = item.querySelector<HTMLButtonElement>("[data-widget-action=up]");
      const down = item.querySelector<HTMLButtonElement>("[data-widget-action=down]");
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === regions.length - 1;
    });
    const keep = button.disabled ? region.querySelector<HTMLButtonElement>(`[data-widget-action=${by < 0 ? "down" : "up"}]`) : button;
    keep?.focus();
    say(t("js-widget-moved", { title: region.querySelector("h2")?.textContent ?? key }));
  };

  root.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement | null)?.closest<HTMLButtonElement>("[data-widget-action]");
    const region = button?.closest<HTMLElement>("[data-widget]");
    if (!button || !region || button.disabled) return;
    const action = button.dataset.widgetAction;
    if (action === "edit") void open(region.dataset.widget ?? "");
    else if (action === "up") void move(region, button, -1);
    else if (action === "down") void move(region, button, 1);
  });
}
