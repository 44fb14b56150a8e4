// The form designer (a form view on the table page): the form's fields as a list — drag, or Move up /
// Move down — each with its label, help text, required, hidden and default, and whether the public link
// may fill it in (prefill), and for a link to many records whether it is a sub-table (the linked
// table's fields its rows fill in, fewest and most rows); the form's texts, daily cap, upsert and the public switch. The draft lives in the page until Save sends it to the views API; a refused save
// (a field deleted meanwhile) keeps the draft and names the field.

import { call, toLogin } from "./api";
import { detailReason, errorMessage, t } from "./i18n";

function rows(list: HTMLElement): HTMLLIElement[] {
  return Array.from(list.querySelectorAll<HTMLLIElement>(":scope > li.designer-field"));
}

function value(root: ParentNode, selector: string): string {
  return (root.querySelector<HTMLInputElement | HTMLTextAreaElement>(selector)?.value ?? "").trim();
}

function checked(root: ParentNode, selector: string): boolean {
  return root.querySelector<HTMLInputElement>(selector)?.checked ?? false;
}

export function initDesigner(root: HTMLElement): void {
  const list = root.querySelector<HTMLOListElement>("ol.designer-fields");
  const picker = root.querySelector<HTMLSelectElement>("#designer-add-field");
  const template = root.querySelector<HTMLTemplateElement>("template.designer-row-template");
  const error = root.querySelector<HTMLElement>(".form-error");
  if (!list || !picker || !template || !error) return;
  const url = root.dataset.url ?? "";
  const name = root.dataset.name ?? "";
  const removed = new Map<string, HTMLOptionElement>();

  const refresh = () => {
    const all = rows(list);
    all.forEach((row, i) => {
      const up = row.querySelector<HTMLButtonElement>("[data-designer=up]");
      const down = row.querySelector<HTMLButtonElement>("[data-designer=down]");
      if (up) up.disabled = i === 0;
      if (down) down.disabled = i === all.length - 1;
    });
    const add = root.querySelector<HTMLButtonElement>("[data-designer=add]");
    if (add) add.disabled = picker.options.length === 0;
  };

  const move = (row: HTMLLIElement, by: number, button: HTMLButtonElement) => {
    const all = rows(list);
    const at = all.indexOf(row);
    const to = at + by;
    if (to < 0 || to >= all.length) return;
    if (by < 0) list.insertBefore(row, all[to]);
    else list.insertBefore(row, all[to].nextSibling);
    refresh();
    // Keep the keyboard where it was; at the ends the other button takes focus.
    (button.disabled ? row.querySelector<HTMLButtonElement>(by < 0 ? "[data-designer=down]" : "[data-designer=up]") : button)?.focus();
  };

  const add = () => {
    const option = picker.selectedOptions[0];
    if (!option) return;
    const row = template.content.querySelector<HTMLLIElement>("li.designer-field")?.cloneNode(true) as HTMLLIElement | null;
    if (!row) return;
    row.dataset.key = option.value;
    row.setAttribute("aria-label", option.text);
    const label = row.querySelector(".designer-field-name");
    if (label) label.textContent = option.text;
    const type = row.querySelector(".designer-field-type");
    if (type) type.textContent = option.dataset.typeLabel ?? "";
    const note = row.querySelector<HTMLElement>(".designer-not-on-page");
    const subtable = root.querySelector<HTMLTemplateElement>(`template.designer-subtable-template[data-key="${CSS.escape(option.value)}"]`);
    if (note) note.hidden = option.dataset.fillable === "true" || subtable !== null;
    if (subtable) row.querySelector(".designer-field-props")?.append(subtable.content.cloneNode(true));
    removed.set(option.value, option);
    option.remove();
    list.append(row);
    refresh();
    row.querySelector<HTMLButtonElement>("[data-designer=up]")?.focus();
  };

  const remove = (row: HTMLLIElement) => {
    const key = row.dataset.key ?? "";
    const option = removed.get(key);
    if (option) picker.append(option);
    else if (!row.dataset.missing) {
      const fresh = document.createElement("option");
      fresh.value = key;
      fresh.text = row.querySelector(".designer-field-name")?.textContent ?? key;
      fresh.dataset.typeLabel = row.querySelector(".designer-field-type")?.textContent ?? "";
      const note = row.querySelector<HTMLElement>(".designer-not-on-page");
      fresh.dataset.fillable = note?.hidden ? "true" : "false";
      picker.append(fresh);
    }
    const next = row.nextElementSibling ?? row.previousElementSibling;
    row.remove();
    refresh();
    (next?.querySelector<HTMLButtonElement>("[data-designer=remove]") ?? picker).focus();
  };

  const config = (): Record<string, unknown> => {
    const fields = rows(list).map((row) => {
      const entry: Record<string, unknown> = { field: row.dataset.key };
      const label = value(row, "input[name=label]");
      const help = value(row, "input[name=help]");
      if (label) entry.label = label;
      if (help) entry.help = help;
      if (checked(row, "input[name=required]")) entry.required = true;
      if (checked(row, "input[name=subtable]")) {
        const sub: Record<string, unknown> = {
          fields: Array.from(row.querySelectorAll<HTMLInputElement>("input[name=subtable-field]:checked"), (box) => box.value),
        };
        for (const key of ["min_rows", "max_rows"]) {
          const raw = value(row, `input[name=${key}]`);
          if (raw !== "" && Number.isInteger(Number(raw))) sub[key] = Number(raw);
        }
        entry.subtable = sub;
        return entry;
      }
      if (checked(row, "input[name=prefill]")) entry.prefill = true;
      if (checked(row, "input[name=hidden]")) {
        entry.hidden = true;
        const fallback = value(row, "input[name=default]");
        if (fallback) entry.default = fallback;
      }
      return entry;
    });
    const out: Record<string, unknown> = { fields, public: checked(root, "#designer-public") };
    if (checked(root, "#designer-upsert")) out.upsert = true;
    for (const [key, selector] of [
      ["title", "#designer-title"],
      ["description", "#designer-description"],
      ["submit_label", "#designer-submit-label"],
      ["success_message", "#designer-success"],
    ]) {
      const text = value(root, selector);
      if (text) out[key] = text;
    }
    const limit = Number(value(root, "#designer-daily-limit"));
    if (Number.isInteger(limit) && limit > 0) out.daily_limit = limit;
    return out;
  };

  const save = async (button: HTMLButtonElement) => {
    error.hidden = true;
    rows(list).forEach((row) => row.classList.remove("designer-invalid"));
    button.disabled = true;
    const outcome = await call("PATCH", url, { name, type: "form", config: config() });
    button.disabled = false;
    if (outcome.ok) {
      location.reload();
      return;
    }
    if (outcome.status === 401) return toLogin();
    if (outcome.status === 0 || !outcome.error) {
      error.textContent = t("js-offline");
      error.hidden = false;
      return;
    }
    const problems = outcome.error.details.map((detail) => {
      const at = /^config\.fields\[(\d+)\]/.exec(detail.field);
      const row = at ? rows(list)[Number(at[1])] : undefined;
      if (!row) return detailReason(detail);
      row.classList.add("designer-invalid");
      const fieldName = row.querySelector(".designer-field-name")?.textContent ?? row.dataset.key ?? "";
      return detail.code === "unknown_field"
        ? t("js-designer-missing-field", { name: fieldName })
        : t("js-designer-field-problem", { name: fieldName, reason: detailReason(detail) });
    });
    error.textContent = problems.length ? problems.join(" ") : errorMessage(outcome.error);
    error.hidden = false;
  };

  root.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement | null)?.closest<HTMLButtonElement>("[data-designer]");
    if (!button) return;
    const row = button.closest<HTMLLIElement>("li.designer-field");
    const action = button.dataset.designer;
    if (action === "up" && row) move(row, -1, button);
    else if (action === "down" && row) move(row, 1, button);
    else if (action === "remove" && row) remove(row);
    else if (action === "add") add();
    if (action === "up" || action === "down" || action === "remove" || action === "add") draftChanged();
    else if (action === "save") void save(button);
    else if (action === "preview") showPreview(button.getAttribute("aria-pressed") !== "true");
  });
  // 手机预览|Preview as a phone: the public page in a 375 px frame, on until turned off. It shows the
  // saved form first and then follows the draft: each change posts the draft into the frame (never
  // stored; a draft a save would refuse shows the saved form with the reason).
  const previewButton = root.querySelector<HTMLButtonElement>("[data-designer=preview]");
  const preview = root.querySelector<HTMLElement>(".designer-preview");
  const draftForm = root.querySelector<HTMLFormElement>("form.designer-preview-draft");
  const PREVIEW_KEY = "tenon-designer-preview";
  let edited = false;
  let pending: number | undefined;
  const previewDraft = () => {
    window.clearTimeout(pending);
    pending = undefined;
    const input = draftForm?.querySelector<HTMLInputElement>("input[name=config]");
    if (!draftForm || !input || !preview || preview.hidden) return;
    input.value = JSON.stringify(config());
    draftForm.submit();
  };
  const draftChanged = () => {
    edited = true;
    window.clearTimeout(pending);
    if (preview && !preview.hidden) pending = window.setTimeout(previewDraft, 400);
  };
  const showPreview = (on: boolean) => {
    if (!previewButton || !preview) return;
    previewButton.setAttribute("aria-pressed", String(on));
    preview.hidden = !on;
    const frame = preview.querySelector<HTMLIFrameElement>("iframe");
    if (on && edited) previewDraft();
    else if (on && frame && !frame.getAttribute("src")) frame.src = frame.dataset.src ?? "";
    try {
      if (on) sessionStorage.setItem(PREVIEW_KEY, "on");
      else sessionStorage.removeItem(PREVIEW_KEY);
    } catch {
      // Storage may be off; the toggle still works for this page.
    }
  };
  try {
    if (sessionStorage.getItem(PREVIEW_KEY) === "on") showPreview(true);
  } catch {
    // As above.
  }

  root.addEventListener("input", draftChanged);
  root.addEventListener("change", (event) => {
    draftChanged();
    const input = event.target as HTMLInputElement;
    if (input.name === "subtable") {
      const box = input.closest("li")?.querySelector<HTMLElement>(".designer-subtable-fields");
      if (box) box.hidden = !input.checked;
    }
    if (input.name === "hidden") {
      const box = input.closest("li")?.querySelector<HTMLElement>("[data-default]");
      if (box) box.hidden = !input.checked;
    }
  });

  // Dragging a field onto another puts it there.
  let dragged: HTMLLIElement | null = null;
  list.addEventListener("dragstart", (event) => {
    dragged = (event.target as HTMLElement).closest<HTMLLIElement>("li.designer-field");
    if (dragged && event.dataTransfer) {
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.key ?? "");
    }
  });
  list.addEventListener("dragover", (event) => {
    if (dragged) event.preventDefault();
  });
  list.addEventListener("drop", (event) => {
    event.preventDefault();
    const target = (event.target as HTMLElement).closest<HTMLLIElement>("li.designer-field");
    if (!dragged || !target || target === dragged) return;
    const all = rows(list);
    if (all.indexOf(dragged) < all.indexOf(target)) list.insertBefore(dragged, target.nextSibling);
    else list.insertBefore(dragged, target);
    dragged = null;
    refresh();
    draftChanged();
  });
  list.addEventListener("dragend", () => {
    dragged = null;
  });
  refresh();
}
