// The record detail's 分享|Share tab: make a signed link to the record's chosen fields (read-only or an
// edit form, with a lifetime), show it once with a copy button and a QR code, and list the record's links
// with a button withdrawing each live one. Everything goes through the records API
// (`…/records/{id}/share`, `…/records/{id}/shares`); the QR code is drawn by the server (`POST /qr.svg`).

import { call, toLogin } from "./api";
import { detailReason, errorMessage, t } from "./i18n";
import type { Field } from "./values";

/** The field types an edit link can change (`tenon_server::routes::share_links::editable_type`). */
const EDITABLE = new Set([
  "text", "long_text", "number", "currency", "percent", "date", "datetime", "duration", "checkbox",
  "single_select", "multi_select", "rating", "email", "phone", "url", "attachment",
]);

interface ShareOut {
  id: string;
  mode: string;
  fields: string[];
  expires_at: string;
  uses: number;
  status: string;
}

interface ShareCreated {
  id: string;
  url: string;
}

export class ShareTab {
  private fieldList: HTMLElement;
  private list: HTMLUListElement;
  private error: HTMLElement;
  private made: HTMLElement;
  private url: HTMLInputElement;
  private copied: HTMLElement;
  private qr: HTMLImageElement;
  private record: string | null = null;
  private qrUrl: string | null = null;

  constructor(
    private panel: HTMLElement,
    private fields: Field[],
    private recordsUrl: (suffix: string) => string,
  ) {
    this.fieldList = panel.querySelector(".share-field-list")!;
    this.list = panel.querySelector(".share-list")!;
    this.error = panel.querySelector(".share-error")!;
    this.made = panel.querySelector(".share-made")!;
    this.url = panel.querySelector("#share-url")!;
    this.copied = panel.querySelector(".share-copied")!;
    this.qr = panel.querySelector(".share-qr")!;
    panel.querySelector("[data-action=create-share]")!.addEventListener("click", () => void this.create());
    panel.querySelector("[data-action=copy-share]")!.addEventListener("click", () => void this.copy());
    panel.querySelectorAll<HTMLInputElement>("input[name=share_mode]").forEach((radio) =>
      radio.addEventListener("change", () => this.fitMode()),
    );
    // The panel sits in the record's form: Enter in its inputs must not save (and close) the record.
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target instanceof HTMLInputElement) event.preventDefault();
    });
  }

  /** A fresh tab for another record: no field ticked, read-only, nothing made yet. */
  reset(record: string): void {
    this.record = record;
    this.fieldList.replaceChildren();
    this.fields.forEach((field, index) => {
      const row = document.createElement("span");
      row.className = "share-choice";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.id = `share-field-${index}`;
      box.value = field.key;
      box.dataset.editable = String(EDITABLE.has(field.type));
      const label = document.createElement("label");
      label.htmlFor = box.id;
      label.textContent = field.name;
      label.dataset.userContent = "";
      row.append(box, label);
      this.fieldList.append(row);
    });
    const read = this.panel.querySelector<HTMLInputElement>("#share-mode-read");
    if (read) read.checked = true;
    this.fitMode();
    this.hideMade();
    this.error.hidden = true;
    this.list.replaceChildren();
  }

  /** An edit link cannot change some types (pickers of the organization's people, computed values). */
  private fitMode(): void {
    const edit = this.mode() === "edit";
    this.fieldList.querySelectorAll<HTMLInputElement>("input[type=checkbox]").forEach((box) => {
      const blocked = edit && box.dataset.editable !== "true";
      box.disabled = blocked;
      if (blocked) box.checked = false;
      const label = box.nextElementSibling as HTMLElement | null;
      label?.classList.toggle("share-blocked", blocked);
      if (label) label.title = blocked ? t("js-share-not-editable") : "";
    });
  }

  private mode(): string {
    return this.panel.querySelector<HTMLInputElement>("input[name=share_mode]:checked")?.value ?? "read";
  }

  private hideMade(): void {
    this.made.hidden = true;
    this.url.value = "";
    this.copied.textContent = "";
    this.qr.hidden = true;
    this.qr.removeAttribute("src");
    if (this.qrUrl) URL.revokeObjectURL(this.qrUrl);
    this.qrUrl = null;
  }

  private base(): string {
    return this.recordsUrl(`/${encodeURIComponent(this.record ?? "")}`);
  }

  private async create(): Promise<void> {
    if (!this.record) return;
    this.error.hidden = true;
    const chosen = Array.from(this.fieldList.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked")).map((box) => box.value);
    if (!chosen.length) {
      this.showError(t("js-share-pick-field"));
      return;
    }
    const days = Number(this.panel.querySelector<HTMLSelectElement>("#share-expiry")?.value ?? "30");
    const outcome = await call<ShareCreated>("POST", `${this.base()}/share`, {
      fields: chosen,
      mode: this.mode(),
      expires_in_days: days,
    });
    if (!outcome.ok) {
      if (outcome.status === 401) return toLogin();
      const reasons = outcome.error?.details.map((detail) => detailReason(detail)) ?? [];
      this.showError([outcome.error ? errorMessage(outcome.error) : t("js-offline"), ...reasons].join(" "));
      return;
    }
    this.hideMade();
    this.url.value = outcome.body.url;
    this.made.hidden = false;
    this.url.focus();
    this.url.select();
    void this.drawQr(outcome.body.url);
    await this.load();
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }

  private async drawQr(url: string): Promise<void> {
    try {
      const response = await fetch("/qr.svg", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "text/plain" },
        body: url,
      });
      if (!response.ok || this.url.value !== url) return;
      this.qrUrl = URL.createObjectURL(await response.blob());
      this.qr.src = this.qrUrl;
      this.qr.hidden = false;
    } catch {
      // Without the picture the link is still there to copy.
    }
  }

  private async copy(): Promise<void> {
    const text = this.url.value;
    let done = false;
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch {
      // Not a secure context (plain http on a LAN address): copy the selected text the old way.
      this.url.focus();
      this.url.select();
      done = document.execCommand("copy");
    }
    this.copied.textContent = done ? t("js-share-copied") : t("js-share-copy-by-hand");
  }

  /** The record's links, newest first; each live one with its 收回|Withdraw button. */
  async load(): Promise<void> {
    if (!this.record) return;
    const outcome = await call<{ items: ShareOut[] }>("GET", `${this.base()}/shares`);
    if (!outcome.ok) {
      if (outcome.status === 401) return toLogin();
      this.list.replaceChildren(item(outcome.error ? errorMessage(outcome.error) : t("js-offline")));
      return;
    }
    if (!outcome.body.items.length) {
      this.list.replaceChildren(item(t("js-share-none")));
      return;
    }
    const lang = document.documentElement.lang;
    this.list.replaceChildren(
      ...outcome.body.items.map((share) => {
        const names = share.fields.map((key) => this.fields.find((field) => field.key === key)?.name ?? key);
        const li = item("");
        const what = document.createElement("span");
        what.className = "share-what";
        what.dataset.userContent = "";
        what.textContent = names.join("、");
        const about = document.createElement("span");
        about.className = "hint share-about";
        const until = new Date(share.expires_at).toLocaleDateString(lang);
        about.textContent = [
          t(share.mode === "edit" ? "js-share-edit" : "js-share-read"),
          share.status === "active" ? t("js-share-until", { at: until }) : t(`js-share-${share.status}`),
          t("js-share-uses", { count: share.uses }),
        ].join(" · ");
        li.append(what, about);
        li.classList.toggle("share-dead", share.status !== "active");
        if (share.status === "active") {
          const revoke = document.createElement("button");
          revoke.type = "button";
          revoke.className = "quiet small danger";
          revoke.textContent = t("js-share-revoke");
          revoke.addEventListener("click", () => void this.revoke(share.id));
          li.append(revoke);
        }
        return li;
      }),
    );
  }

  private async revoke(id: string): Promise<void> {
    const outcome = await call("DELETE", `${this.base()}/shares/${encodeURIComponent(id)}`);
    if (!outcome.ok && outcome.status === 401) return toLogin();
    if (!outcome.ok) this.showError(outcome.error ? errorMessage(outcome.error) : t("js-offline"));
    await this.load();
  }
}

function item(text: string): HTMLLIElement {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}
