// The formula editor: autocomplete of `{field}` names and of functions (signature and example), the
// server's diagnostics underlined at their span as the person types, the result type shown, and the
// caller told whether the formula may be saved.

import { call } from "./api";
import { detailReason, lookup, t, type ErrorDetail } from "./i18n";
import type { Field } from "./values";

interface FunctionInfo {
  name: string;
  signature: string;
  example: string;
}

interface Checked {
  valid: boolean;
  result: { type: string } | null;
  diagnostics: ErrorDetail[];
}

interface Suggestion {
  label: string;
  insert: string;
  note: string;
  /** How many characters before the caret the suggestion replaces. */
  replace: number;
}

function functions(): FunctionInfo[] {
  const block = document.getElementById("formula-functions");
  try {
    return block?.textContent ? (JSON.parse(block.textContent) as FunctionInfo[]) : [];
  } catch {
    return [];
  }
}

/** The string index of a UTF-8 byte offset (the server's spans count bytes). */
function byteToIndex(text: string, byte: number): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    if (bytes >= byte) return i;
    const code = text.codePointAt(i) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (code >= 0x10000) i++;
  }
  return text.length;
}

export class FormulaEditor {
  valid = false;
  private mirror: HTMLElement;
  private messages: HTMLElement;
  private resultBox: HTMLElement;
  private list: HTMLUListElement;
  private suggestions: Suggestion[] = [];
  private active = -1;
  private timer: number | undefined;
  private own: string | null = null;
  private sequence = 0;
  private catalog = functions();

  constructor(
    private box: HTMLTextAreaElement,
    private fields: Field[],
    private base: string,
    private onValidity: (valid: boolean) => void,
  ) {
    const wrap = box.closest<HTMLElement>(".formula-wrap")!;
    this.mirror = wrap.querySelector(".formula-mirror")!;
    const section = wrap.closest<HTMLElement>("[data-types]") ?? wrap.parentElement!;
    this.messages = section.querySelector(".formula-messages")!;
    this.resultBox = section.querySelector(".formula-result")!;
    this.list = wrap.querySelector(".formula-suggestions")!;
    box.addEventListener("input", () => {
      this.suggest();
      this.schedule();
      this.paint([]);
    });
    box.addEventListener("scroll", () => (this.mirror.scrollTop = box.scrollTop));
    box.addEventListener("keydown", (event) => this.onKey(event));
    box.addEventListener("blur", () => window.setTimeout(() => this.close(), 150));
  }

  exclude(field: string | null): void {
    this.own = field;
  }

  private onKey(event: KeyboardEvent): void {
    if (event.isComposing || event.keyCode === 229 || this.list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const count = this.suggestions.length;
      this.highlight((this.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count);
    } else if ((event.key === "Enter" || event.key === "Tab") && this.active >= 0) {
      event.preventDefault();
      this.accept(this.active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.close();
    }
  }

  /** What is being typed before the caret: a `{field` reference or a function name. */
  private suggest(): void {
    const caret = this.box.selectionStart ?? this.box.value.length;
    const before = this.box.value.slice(0, caret);
    const reference = /\{([^{}]*)$/.exec(before);
    const word = /([A-Za-z_][A-Za-z0-9_.]*)$/.exec(before);
    this.suggestions = [];
    if (reference) {
      const typed = reference[1].toLowerCase();
      this.suggestions = this.fields
        .filter((field) => field.key !== this.own && field.name.toLowerCase().includes(typed))
        .map((field) => ({
          label: `{${field.name}}`,
          insert: `{${field.name}}`,
          note: lookup(`field-type-${field.type}`) ?? field.type,
          replace: reference[0].length,
        }));
    } else if (word && word[1].length >= 1) {
      const typed = word[1].toUpperCase();
      this.suggestions = this.catalog
        .filter((fn) => fn.name.startsWith(typed))
        .slice(0, 8)
        .map((fn) => ({
          label: fn.signature,
          insert: `${fn.name}(`,
          note: fn.example,
          replace: word[1].length,
        }));
    }
    this.list.replaceChildren();
    this.suggestions.forEach((suggestion, index) => {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = `${this.list.id}-${index}`;
      const label = document.createElement("span");
      label.className = "suggestion-label";
      label.textContent = suggestion.label;
      const note = document.createElement("span");
      note.className = "suggestion-note";
      note.textContent = suggestion.note;
      item.append(label, note);
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        this.accept(index);
      });
      this.list.append(item);
    });
    this.list.hidden = this.suggestions.length === 0;
    this.box.setAttribute("aria-expanded", String(!this.list.hidden));
    this.highlight(this.suggestions.length ? 0 : -1);
  }

  private highlight(index: number): void {
    this.active = index;
    Array.from(this.list.children).forEach((item, i) => item.setAttribute("aria-selected", String(i === index)));
    if (index >= 0) this.box.setAttribute("aria-activedescendant", `${this.list.id}-${index}`);
    else this.box.removeAttribute("aria-activedescendant");
  }

  private accept(index: number): void {
    const suggestion = this.suggestions[index];
    if (!suggestion) return;
    const caret = this.box.selectionStart ?? this.box.value.length;
    const start = caret - suggestion.replace;
    this.box.setRangeText(suggestion.insert, start, caret, "end");
    this.close();
    this.box.focus();
    this.schedule();
  }

  private close(): void {
    this.list.hidden = true;
    this.box.setAttribute("aria-expanded", "false");
    this.highlight(-1);
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    this.valid = false;
    this.onValidity(false);
    this.timer = window.setTimeout(() => this.check(), 250);
  }

  /** Asks the server; only the newest answer counts. */
  check(): void {
    const sequence = ++this.sequence;
    const formula = this.box.value;
    if (!formula.trim()) {
      this.valid = false;
      this.onValidity(false);
      this.paint([]);
      this.resultBox.textContent = "";
      return;
    }
    void call<Checked>("POST", `${this.base}/formula-check`, { formula, field: this.own ?? undefined }).then((outcome) => {
      if (sequence !== this.sequence || !outcome.ok) return;
      this.valid = outcome.body.valid;
      this.onValidity(this.valid);
      this.paint(outcome.body.diagnostics);
      this.resultBox.textContent = outcome.body.result
        ? t("js-formula-result", { type: lookup(`field-type-${outcome.body.result.type}`) ?? outcome.body.result.type })
        : "";
      this.box.setAttribute("aria-invalid", String(!this.valid));
    });
  }

  /** Underlines each diagnostic's span in the mirror behind the textarea and lists the reasons. */
  private paint(diagnostics: ErrorDetail[]): void {
    const text = this.box.value;
    const spans = diagnostics
      .map((d) => ({ start: byteToIndex(text, Number(d.params.start ?? 0)), end: byteToIndex(text, Number(d.params.end ?? 0)) }))
      .map((s) => ({ start: Math.max(0, Math.min(text.length, s.start)), end: Math.max(0, Math.min(text.length, Math.max(s.end, s.start + 1))) }))
      .sort((a, b) => a.start - b.start);
    this.mirror.replaceChildren();
    let at = 0;
    for (const span of spans) {
      if (span.start < at) continue;
      this.mirror.append(document.createTextNode(text.slice(at, span.start)));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(span.start, span.end) || " ";
      this.mirror.append(mark);
      at = span.end;
    }
    this.mirror.append(document.createTextNode(`${text.slice(at)}\n`));
    this.messages.replaceChildren();
    for (const diagnostic of diagnostics) {
      const item = document.createElement("li");
      item.textContent = detailReason(diagnostic);
      this.messages.append(item);
    }
  }
}
