// Attachment cells: thumbnails of raster images and names of other files in the grid, and the editor a
// cell opens (Enter, F2, a double click, or typing): a dialog listing the cell's files, each with a
// preview (an image in a second dialog; any other file a download link) and a remove button, and a drop
// zone with an 上传文件|Upload file button (files dropped onto the grid's cell open it and are added). Each file is uploaded (`POST /api/v1/attachments`) and then
// added to the record with If-Match; the field's limits (types, size) are the server's, so a refused file
// is named with the server's reason in the page's language and left out. Only raster images are shown
// inline (never SVG); the server sends every download with `nosniff`.

import { send } from "./api";
import { detailReason, errorMessage, t, type ApiError } from "./i18n";
import type { Field } from "./values";

export interface FileItem {
  id: string;
  name: string;
  size?: number;
  type?: string;
  url?: string;
}

/** What saving a cell's files answered: the files as stored, or why not. */
export type Saved = { ok: true; files: FileItem[] } | { ok: false; reason: string; files?: FileItem[] };

const RASTER = /^image\/(png|jpeg|gif|webp|bmp|avif)$/;

export function isImage(file: FileItem): boolean {
  return RASTER.test(file.type ?? "");
}

export function urlOf(file: FileItem): string {
  return file.url ?? `/api/v1/attachments/${encodeURIComponent(file.id)}`;
}

/** A cell's value as files (the API shows `[{id, name, size, type, url}]`). */
export function filesOf(value: unknown): FileItem[] {
  const list = Array.isArray(value) ? value : value == null ? [] : [value];
  return list
    .filter((item): item is Record<string, unknown> => !!item && typeof item === "object" && "id" in item)
    .map((item) => ({
      id: String(item.id),
      name: String(item.name ?? item.id),
      size: typeof item.size === "number" ? item.size : undefined,
      type: typeof item.type === "string" ? item.type : undefined,
      url: typeof item.url === "string" ? item.url : undefined,
    }));
}

/** Fills a grid cell: a thumbnail per raster image, a name chip per other file. */
export function fillAttachmentCell(td: HTMLElement, value: unknown): void {
  for (const file of filesOf(value)) {
    if (isImage(file)) {
      const img = document.createElement("img");
      img.className = "thumb";
      img.src = urlOf(file);
      img.alt = file.name;
      img.loading = "lazy";
      img.decoding = "async";
      td.append(img);
    } else {
      const chip = document.createElement("span");
      chip.className = "chip chip-gray file-chip";
      chip.dataset.userContent = "";
      chip.textContent = file.name;
      td.append(chip);
    }
  }
}

function reasonOf(error: ApiError | null): string {
  if (!error) return t("js-offline");
  // A file's size limit comes in bytes: said in MB, as the field's option is.
  const details = error.details.map((detail) =>
    detail.code === "too_large" && typeof detail.params.max === "number" && detail.params.max >= 1048576
      ? { ...detail, params: { ...detail.params, max: `${Math.round((detail.params.max / 1048576) * 10) / 10} MB` } }
      : detail,
  );
  return details.map(detailReason).join("; ") || errorMessage(error);
}

/** Uploads one file; its id goes into the record next. */
async function upload(file: File): Promise<{ ok: true; item: FileItem } | { ok: false; reason: string }> {
  const outcome = await send<FileItem>("POST", `/api/v1/attachments?filename=${encodeURIComponent(file.name)}`, file, {
    "content-type": file.type || "application/octet-stream",
  });
  if (outcome.ok) return { ok: true, item: outcome.body };
  return { ok: false, reason: reasonOf(outcome.error) };
}

function button(text: string, className = ""): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

let dialogs = 0;

export class AttachmentEditor {
  private dialog: HTMLDialogElement;
  private title: HTMLElement;
  private limits: HTMLElement;
  private list: HTMLUListElement;
  private empty: HTMLElement;
  private picker: HTMLInputElement;
  private uploadButton: HTMLButtonElement;
  private zone: HTMLElement;
  private statusLine: HTMLElement;
  private errorBox: HTMLElement;
  private preview: HTMLDialogElement;
  private files: FileItem[] = [];
  private save: ((ids: string[]) => Promise<Saved>) | null = null;
  private busy = false;
  /** Files that came while others were going up (they follow). */
  private waiting: File[] = [];
  private onClose: () => void = () => {};

  constructor() {
    const n = ++dialogs;
    this.dialog = document.createElement("dialog");
    this.dialog.className = "wide attachment-dialog";
    this.dialog.setAttribute("aria-labelledby", `attachment-title-${n}`);
    this.title = document.createElement("h2");
    this.title.id = `attachment-title-${n}`;
    this.limits = document.createElement("p");
    this.limits.className = "hint";
    this.list = document.createElement("ul");
    this.list.className = "attachment-list";
    this.empty = document.createElement("p");
    this.empty.className = "hint";
    this.empty.textContent = t("js-attachments-empty");
    this.zone = document.createElement("div");
    this.zone.className = "drop-zone";
    const prompt = document.createElement("p");
    prompt.textContent = t("js-attachments-drop");
    this.uploadButton = button(t("upload-file"), "primary");
    this.picker = document.createElement("input");
    this.picker.type = "file";
    this.picker.multiple = true;
    this.picker.hidden = true;
    this.picker.tabIndex = -1;
    this.picker.setAttribute("aria-hidden", "true");
    this.zone.append(prompt, this.uploadButton, this.picker);
    this.statusLine = document.createElement("p");
    this.statusLine.className = "hint attachment-status";
    this.statusLine.setAttribute("role", "status");
    this.errorBox = document.createElement("p");
    this.errorBox.className = "form-error";
    this.errorBox.setAttribute("role", "alert");
    this.errorBox.hidden = true;
    const actions = document.createElement("div");
    actions.className = "actions";
    const close = button(t("js-close"));
    close.addEventListener("click", () => this.dialog.close());
    actions.append(close);
    this.dialog.append(this.title, this.limits, this.list, this.empty, this.zone, this.statusLine, this.errorBox, actions);
    this.preview = document.createElement("dialog");
    this.preview.className = "wide preview-dialog";
    this.preview.setAttribute("aria-labelledby", `attachment-preview-${n}`);
    document.body.append(this.dialog, this.preview);

    this.uploadButton.addEventListener("click", () => this.picker.click());
    this.picker.addEventListener("change", () => {
      const chosen = Array.from(this.picker.files ?? []);
      this.picker.value = "";
      void this.add(chosen);
    });
    this.zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      this.zone.classList.add("over");
    });
    this.zone.addEventListener("dragleave", () => this.zone.classList.remove("over"));
    this.zone.addEventListener("drop", (event) => {
      event.preventDefault();
      this.zone.classList.remove("over");
      void this.add(Array.from(event.dataTransfer?.files ?? []));
    });
    this.dialog.addEventListener("close", () => this.onClose());
  }

  /** Opens the editor of one cell; `save` writes the cell's file ids (with If-Match) and answers. */
  open(field: Field, heading: string, files: FileItem[], save: (ids: string[]) => Promise<Saved>, onClose: () => void): void {
    if (this.dialog.open) return;
    this.files = [...files];
    this.save = save;
    this.onClose = onClose;
    this.title.textContent = heading;
    const types = Array.isArray(field.options.types) ? (field.options.types as string[]) : [];
    const size = typeof field.options.max_size_mb === "number" ? field.options.max_size_mb : 20;
    this.limits.replaceChildren();
    if (types.length) {
      // The types are the field's settings (MIME names), shown as they are.
      const list = document.createElement("span");
      list.dataset.userContent = "";
      list.textContent = types.join(", ");
      this.limits.append(t("js-attachments-types"), " ", list, " · ");
    }
    this.limits.append(t("js-attachments-size", { size }));
    // The file chooser offers the allowed types first; the server decides either way.
    this.picker.accept = types.join(",");
    this.statusLine.textContent = "";
    this.errorBox.hidden = true;
    this.render();
    this.dialog.showModal();
    this.uploadButton.focus();
  }

  private render(): void {
    this.list.replaceChildren();
    this.empty.hidden = this.files.length > 0;
    for (const file of this.files) {
      const li = document.createElement("li");
      if (isImage(file)) {
        const img = document.createElement("img");
        img.className = "thumb";
        img.src = urlOf(file);
        img.alt = "";
        li.append(img);
      } else {
        const icon = document.createElement("span");
        icon.className = "file-icon";
        icon.setAttribute("aria-hidden", "true");
        icon.textContent = "📄";
        li.append(icon);
      }
      const name = document.createElement("span");
      name.className = "file-name";
      name.dataset.userContent = "";
      name.textContent = file.name;
      li.append(name);
      if (isImage(file)) {
        const look = button(t("js-attachment-preview", { name: file.name }), "small");
        look.addEventListener("click", () => this.showPreview(file));
        li.append(look);
      } else {
        const link = document.createElement("a");
        link.href = urlOf(file);
        link.download = file.name;
        link.className = "button small";
        link.textContent = t("js-attachment-download", { name: file.name });
        li.append(link);
      }
      const remove = button(t("js-attachment-remove", { name: file.name }), "small quiet");
      remove.addEventListener("click", () => void this.remove(file));
      li.append(remove);
      this.list.append(li);
    }
  }

  private showPreview(file: FileItem): void {
    const heading = document.createElement("h2");
    heading.id = this.preview.getAttribute("aria-labelledby")!;
    heading.textContent = file.name;
    heading.dataset.userContent = "";
    const img = document.createElement("img");
    img.className = "preview-image";
    img.src = urlOf(file);
    img.alt = file.name;
    const link = document.createElement("a");
    link.href = urlOf(file);
    link.download = file.name;
    link.textContent = t("js-attachment-download", { name: file.name });
    const actions = document.createElement("div");
    actions.className = "actions";
    const close = button(t("js-close"), "primary");
    close.addEventListener("click", () => this.preview.close());
    actions.append(link, close);
    this.preview.replaceChildren(heading, img, actions);
    this.preview.showModal();
    close.focus();
  }

  private fail(text: string): void {
    this.errorBox.textContent = text;
    this.errorBox.hidden = false;
  }

  /** Uploads and adds files to the open cell (files dropped onto the grid's cell). */
  addFiles(chosen: File[]): Promise<void> {
    return this.add(chosen);
  }

  /** Uploads and adds each file in turn: a refused one is named with the reason, the others still go. */
  private async add(chosen: File[]): Promise<void> {
    if (!chosen.length || !this.save) return;
    if (this.busy) {
      // Files dropped while others are still going up follow them.
      this.waiting.push(...chosen);
      return;
    }
    this.busy = true;
    this.errorBox.hidden = true;
    const problems: string[] = [];
    for (const file of chosen) {
      this.statusLine.textContent = t("js-attachment-uploading", { name: file.name });
      const uploaded = await upload(file);
      if (!uploaded.ok) {
        problems.push(t("js-error-field", { field: file.name, reason: uploaded.reason }));
        continue;
      }
      const saved = await this.save([...this.files.map((f) => f.id), uploaded.item.id]);
      if (saved.ok) {
        this.files = saved.files;
        this.render();
      } else {
        problems.push(t("js-error-field", { field: file.name, reason: saved.reason }));
        // A conflict brings the files as someone else left them.
        if (saved.files) {
          this.files = saved.files;
          this.render();
        }
      }
    }
    this.busy = false;
    this.statusLine.textContent = problems.length ? "" : t("js-saved");
    if (problems.length) this.fail(problems.join(" "));
    const next = this.waiting.splice(0);
    if (next.length) await this.add(next);
  }

  private async remove(file: FileItem): Promise<void> {
    if (!this.save || this.busy) return;
    this.busy = true;
    this.errorBox.hidden = true;
    const index = this.files.findIndex((f) => f.id === file.id);
    const saved = await this.save(this.files.filter((f) => f.id !== file.id).map((f) => f.id));
    this.busy = false;
    if (!saved.ok) {
      if (saved.files) {
        this.files = saved.files;
        this.render();
      }
      return this.fail(saved.reason);
    }
    this.files = saved.files;
    this.render();
    this.statusLine.textContent = t("js-attachment-removed", { name: file.name });
    // The focus goes to the next file's first button, or the upload button.
    const next = this.list.children[Math.min(index, this.list.children.length - 1)]?.querySelector<HTMLElement>("button, a");
    (next ?? this.uploadButton).focus();
  }
}

/** The reason an API answer gives, in the page's language. */
export { reasonOf };
