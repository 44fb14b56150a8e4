// The dashboard island: fills each widget's region from `…/dashboards/{key}/data`, draws charts with uPlot
// (vendored, loaded only by dashboard pages; a pie is drawn on a plain canvas) and always beside them an
// accessible table of the same figures. Record events for a widget's table re-query that widget alone;
// a `voucher.posted` event re-queries the ledger widgets of its book (and those whose book did not exist
// yet), when the page may hear ledger events (`data-ledger-events`: the viewer holds ledger:read).

import { call, toLogin } from "./api";
import { showError } from "./forms";
import { detailReason, errorMessage, t, type ApiError } from "./i18n";

interface WidgetData {
  key: string;
  title: string;
  type: "number" | "chart" | "top" | "ledger" | "records";
  width: number;
  table: string | null;
  table_id: string | null;
  book: string | null;
  book_id: string | null;
  data: Record<string, unknown> | null;
  error: ApiError | null;
}

interface DashboardData {
  key: string;
  name: string;
  today: string;
  widgets: WidgetData[];
}

type Group = Record<string, unknown> & { key: Record<string, unknown> };

interface UPlotLike {
  destroy(): void;
}
type UPlotCtor = new (options: unknown, data: unknown, target: HTMLElement) => UPlotLike;

const PALETTE = ["#1f5fbf", "#e07b00", "#1e7a3c", "#b3261e", "#6b4fbb", "#00838f", "#8d6e00", "#5a6272"];

/** A group key, a cell or a figure as text. */
export function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return t("js-dashboard-none");
  // A checkbox (or a true/false formula) shows as the grid shows it: a tick, or nothing.
  if (typeof value === "boolean") return value ? "✓" : "";
  if (Array.isArray(value)) return value.map(show).join(", ");
  if (typeof value === "object") {
    const named = value as { name?: unknown };
    return named.name !== undefined ? show(named.name) : JSON.stringify(value);
  }
  return String(value);
}

/** A field's key → the name people gave it (the page hands each widget its table's names). */
type Names = Record<string, string>;

/** `booked_on:week` → "下单日期（周）"; `owner` → "负责人". */
function groupLabel(group: string, names: Names): string {
  const [field, bucket] = group.split(":");
  const name = names[field] ?? field;
  return bucket ? t("js-dashboard-bucketed", { field: name, bucket: t(`js-dashboard-bucket-${bucket}`) }) : name;
}

/** `sum:amount` → "合计 金额"; `count` → "数量". */
function metricLabel(metric: string, names: Names): string {
  const [kind, field] = metric.split(":");
  const label = t(`js-dashboard-metric-${kind}`);
  return field ? `${label} ${names[field] ?? field}` : label;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function table(caption: string, headers: string[], rows: string[][], numeric: boolean[]): HTMLTableElement {
  const node = element("table", "figures");
  node.append(element("caption", "visually-hidden", caption));
  const head = node.createTHead().insertRow();
  headers.forEach((header, i) => {
    const cell = element("th", numeric[i] ? "num" : undefined, header);
    cell.scope = "col";
    head.append(cell);
  });
  const body = node.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    row.forEach((text, i) => {
      if (i === 0) {
        const cell = element("th", undefined, text);
        cell.scope = "row";
        line.append(cell);
      } else {
        line.append(element("td", numeric[i] ? "num" : undefined, text));
      }
    });
  }
  return node;
}

function groupsOf(data: Record<string, unknown>): Group[] {
  return Array.isArray(data.groups) ? (data.groups as Group[]) : [];
}

function asNumber(value: unknown): number {
  const n = typeof value === "number" ? value : Number.parseFloat(String(value ?? ""));
  return Number.isFinite(n) ? n : 0;
}

export class Dashboard {
  private readonly base: string;
  private readonly regions = new Map<string, HTMLElement>();
  private readonly names = new Map<string, Names>();
  private readonly charts = new Map<string, UPlotLike>();
  private widgets = new Map<string, WidgetData>();
  private pending = new Set<string>();
  private timer: number | undefined;

  constructor(private readonly root: HTMLElement) {
    this.base = `/api/v1/apps/${encodeURIComponent(root.dataset.app ?? "")}/dashboards/${encodeURIComponent(root.dataset.key ?? "")}`;
    root.querySelectorAll<HTMLElement>("[data-widget]").forEach((region) => {
      this.regions.set(region.dataset.widget ?? "", region);
      try {
        this.names.set(region.dataset.widget ?? "", JSON.parse(region.dataset.names || "{}") as Names);
      } catch {
        this.names.set(region.dataset.widget ?? "", {});
      }
    });
  }

  async start(): Promise<void> {
    await this.load();
    this.listen();
  }

  /** Reads the widgets named (all when none) and draws them. */
  private async load(keys?: string[]): Promise<void> {
    const url = keys ? `${this.base}/data?widgets=${encodeURIComponent(keys.join(","))}` : `${this.base}/data`;
    const outcome = await call<DashboardData>("GET", url);
    if (!outcome.ok) {
      if (outcome.status === 401) return toLogin();
      const message = outcome.error ? errorMessage(outcome.error) : t("js-offline");
      for (const key of keys ?? [...this.regions.keys()]) this.fail(key, message);
      return;
    }
    for (const widget of outcome.body.widgets) {
      this.widgets.set(widget.key, widget);
      this.draw(widget);
    }
    this.root.dataset.loaded = String(Number(this.root.dataset.loaded ?? "0") + 1);
  }

  private listen(): void {
    if (typeof EventSource === "undefined") return;
    const ledger = this.root.dataset.ledgerEvents === "true";
    const types = ledger ? "record.*,voucher.posted" : "record.*";
    const source = new EventSource(`/api/v1/events/stream?types=${encodeURIComponent(types)}`);
    const subject = (event: MessageEvent): { table_id?: string; book_id?: string } | null => {
      try {
        return (JSON.parse(String(event.data)) as { subject?: { table_id?: string; book_id?: string } }).subject ?? null;
      } catch {
        return null;
      }
    };
    const onRecord = (event: MessageEvent) => {
      const table = subject(event)?.table_id;
      if (!table) return;
      for (const widget of this.widgets.values()) if (widget.table_id === table) this.pending.add(widget.key);
      this.schedule();
    };
    for (const type of ["record.created", "record.updated", "record.deleted"]) source.addEventListener(type, onRecord);
    // A posted voucher moves its book's figures: the ledger widgets of that book are read again, and those
    // whose book had no id yet (it may be the book just made).
    source.addEventListener("voucher.posted", (event: MessageEvent) => {
      const book = subject(event)?.book_id;
      for (const widget of this.widgets.values()) {
        if (widget.type === "ledger" && (!widget.book_id || widget.book_id === book)) this.pending.add(widget.key);
      }
      this.schedule();
    });
    window.addEventListener("pagehide", () => source.close());
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      const keys = [...this.pending];
      this.pending.clear();
      if (keys.length > 0) void this.load(keys);
    }, 150);
  }

  private body(key: string): HTMLElement | null {
    const region = this.regions.get(key);
    return region?.querySelector<HTMLElement>(".widget-body") ?? null;
  }

  private fail(key: string, message: string): void {
    const body = this.body(key);
    if (!body) return;
    this.charts.get(key)?.destroy();
    this.charts.delete(key);
    const note = element("p", "widget-error", message);
    note.setAttribute("role", "alert");
    body.replaceChildren(note);
  }

  private draw(widget: WidgetData): void {
    const body = this.body(widget.key);
    if (!body) return;
    if (widget.error || !widget.data) {
      this.fail(widget.key, widget.error ? widgetProblem(widget.error) : t("js-dashboard-no-data"));
      return;
    }
    const data = widget.data;
    this.charts.get(widget.key)?.destroy();
    this.charts.delete(widget.key);
    const parts: HTMLElement[] = [];
    switch (widget.type) {
      case "number":
        parts.push(...this.number(data));
        break;
      case "ledger":
        parts.push(...this.ledger(data));
        break;
      case "top":
        parts.push(this.top(widget, data));
        break;
      case "records":
        parts.push(this.records(widget, data));
        break;
      case "chart":
        parts.push(...this.chart(widget, data));
        break;
    }
    body.replaceChildren(...parts);
    if (widget.type === "chart") this.plot(widget, data, body.querySelector<HTMLElement>(".chart-plot"));
  }

  private number(data: Record<string, unknown>): HTMLElement[] {
    const figure = element("p", "figure", show(data.value));
    figure.dataset.value = String(data.value ?? "");
    const parts: HTMLElement[] = [figure];
    if (data.previous !== null && data.previous !== undefined) {
      const now = asNumber(data.value);
      const before = asNumber(data.previous);
      const change = before === 0 ? "" : ` (${now >= before ? "+" : ""}${(((now - before) / before) * 100).toFixed(1)}%)`;
      parts.push(element("p", "compare", t("js-dashboard-previous", { value: show(data.previous) }) + change));
    }
    return parts;
  }

  private ledger(data: Record<string, unknown>): HTMLElement[] {
    const figure = element("p", "figure", show(data.amount));
    figure.dataset.value = String(data.amount ?? "");
    const side = data.side === "debit" || data.side === "credit" ? t(`js-dashboard-${data.side}`) : "";
    const about = t("js-dashboard-ledger-about", {
      account: `${show(data.account)} ${show(data.account_name)}`,
      period: show(data.period),
    });
    return [figure, element("p", "compare", side ? `${side} · ${about}` : about)];
  }

  private top(widget: WidgetData, data: Record<string, unknown>): HTMLElement {
    const groupBy = String(data.group_by ?? "");
    const metric = String(data.metric ?? "count");
    const rows = groupsOf(data).map((group) => [show(group.key[groupBy]), show(group[metric])]);
    if (rows.length === 0) return element("p", "hint", t("js-dashboard-no-data"));
    const names = this.names.get(widget.key) ?? {};
    return table(widget.title, [groupLabel(groupBy, names), metricLabel(metric, names)], rows, [false, true]);
  }

  private records(widget: WidgetData, data: Record<string, unknown>): HTMLElement {
    const items = Array.isArray(data.items) ? (data.items as { fields?: Record<string, unknown> }[]) : [];
    const fields = Array.isArray(data.fields) ? (data.fields as string[]) : Object.keys(items[0]?.fields ?? {});
    if (items.length === 0) return element("p", "hint", t("js-dashboard-no-data"));
    const rows = items.map((item) => fields.map((field) => show(item.fields?.[field])));
    const names = this.names.get(widget.key) ?? {};
    return table(widget.title, fields.map((field) => names[field] ?? field), rows, fields.map(() => false));
  }

  private chart(widget: WidgetData, data: Record<string, unknown>): HTMLElement[] {
    const groupBy = String(data.group_by ?? "");
    const metrics = Array.isArray(data.metrics) ? (data.metrics as string[]) : ["count"];
    const groups = groupsOf(data);
    if (groups.length === 0) return [element("p", "hint", t("js-dashboard-no-data"))];
    const plot = element("div", "chart-plot");
    plot.setAttribute("aria-hidden", "true");
    const rows = groups.map((group) => [show(group.key[groupBy]), ...metrics.map((metric) => show(group[metric]))]);
    const names = this.names.get(widget.key) ?? {};
    const headers = [groupLabel(groupBy, names), ...metrics.map((metric) => metricLabel(metric, names))];
    const figures = table(widget.title, headers, rows, [false, ...metrics.map(() => true)]);
    return [plot, figures];
  }

  /** Draws a chart into `target`: uPlot for bars and lines, a canvas for a pie. */
  private plot(widget: WidgetData, data: Record<string, unknown>, target: HTMLElement | null): void {
    if (!target) return;
    const groupBy = String(data.group_by ?? "");
    const metrics = Array.isArray(data.metrics) ? (data.metrics as string[]) : ["count"];
    const groups = groupsOf(data);
    const labels = groups.map((group) => show(group.key[groupBy]));
    const width = Math.max(240, target.clientWidth || 480);
    if (data.chart === "pie") {
      this.pie(target, labels, groups.map((group) => asNumber(group[metrics[0] ?? "count"])), width);
      return;
    }
    const UPlot = (window as unknown as { uPlot?: UPlotCtor }).uPlot;
    if (!UPlot) return;
    const xs = labels.map((_, i) => i);
    // The first metric on the left axis, any others (often another unit: an amount beside a count) on the right.
    const scaleOf = (i: number) => (i === 0 ? "y" : "y2");
    const series = metrics.map((metric, i) => ({
      label: metricLabel(metric, this.names.get(widget.key) ?? {}),
      scale: scaleOf(i),
      stroke: PALETTE[i % PALETTE.length],
      fill: data.chart === "bar" ? `${PALETTE[i % PALETTE.length]}99` : undefined,
      width: 2,
      paths: data.chart === "bar" ? barPaths(UPlot, i, metrics.length) : undefined,
      points: { show: data.chart !== "bar" || labels.length === 1, size: 8 },
    }));
    const axes: Record<string, unknown>[] = [
      { values: (_: unknown, ticks: number[]) => ticks.map((tick) => (Number.isInteger(tick) ? (labels[tick] ?? "") : "")), space: 40 },
      { scale: "y", size: 80 },
    ];
    if (metrics.length > 1) axes.push({ scale: "y2", side: 1, size: 80, grid: { show: false } });
    const options = {
      width,
      height: 220,
      // The figures are in the table below the chart; the legend would only repeat them.
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: (_: unknown, min: number, max: number) => [min - 0.5, max + 0.5] },
        // Bars and counts start at zero.
        y: { range: fromZero },
        y2: { range: fromZero },
      },
      axes,
      series: [{ label: groupBy }, ...series],
    };
    const columns = [xs, ...metrics.map((metric) => groups.map((group) => asNumber(group[metric])))];
    this.charts.set(widget.key, new UPlot(options, columns, target));
  }

  private pie(target: HTMLElement, labels: string[], values: number[], width: number): void {
    const size = Math.min(width, 220);
    const canvas = element("canvas");
    canvas.width = size;
    canvas.height = size;
    target.replaceChildren(canvas);
    const context = canvas.getContext("2d");
    const total = values.reduce((sum, value) => sum + Math.max(value, 0), 0);
    if (!context || total <= 0) return;
    let angle = -Math.PI / 2;
    values.forEach((value, i) => {
      const slice = (Math.max(value, 0) / total) * Math.PI * 2;
      context.beginPath();
      context.moveTo(size / 2, size / 2);
      context.arc(size / 2, size / 2, size / 2 - 4, angle, angle + slice);
      context.closePath();
      context.fillStyle = PALETTE[i % PALETTE.length] ?? "#888";
      context.fill();
      angle += slice;
    });
    void labels;
  }
}

/** A value axis from zero (or the lowest negative value) to a little above the highest. */
function fromZero(_: unknown, min: number, max: number): [number, number] {
  const top = Math.max(max, 0);
  return [Math.min(min, 0), top > 0 ? top * 1.1 : 1];
}

/** Bars for a bar chart (a chart of several metrics draws each metric's bars narrower, over the last). */
function barPaths(UPlot: UPlotCtor, index: number, count: number): unknown {
  const paths = (UPlot as unknown as { paths?: { bars?: (options: unknown) => unknown } }).paths;
  return paths?.bars?.({ size: [0.7 * (1 - index / (count + 1)), 120] });
}

/** The app page's "New dashboard" dialog: PUT an empty dashboard under the key typed, then open it. */
export function initNewDashboard(form: HTMLFormElement): void {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const app = form.dataset.app ?? "";
    const name = (form.elements.namedItem("name") as HTMLInputElement | null)?.value.trim() ?? "";
    const key = (form.elements.namedItem("key") as HTMLInputElement | null)?.value.trim() ?? "";
    const url = `/api/v1/apps/${encodeURIComponent(app)}/dashboards/${encodeURIComponent(key)}`;
    const existing = await call("GET", url);
    const box = form.querySelector<HTMLElement>(".form-error");
    if (existing.ok) {
      if (box) {
        box.textContent = t("js-dashboard-key-taken");
        box.hidden = false;
      }
      return;
    }
    const outcome = await call("PUT", url, { name, widgets: [] });
    if (outcome.ok) location.assign(`/apps/${encodeURIComponent(app)}/dashboards/${encodeURIComponent(key)}`);
    else showError(form, outcome.error);
  });
}

export function initDashboard(root: HTMLElement): void {
  void new Dashboard(root).start();
}

/**
 * The dashboard page's "Add widget" dialog: reads the dashboard, appends a number, chart or top-N widget
 * (title, table, metric, group) and writes it back; the server checks the names (a 422 is shown here and
 * nothing is stored), then the page reloads with the widget.
 */
export function initAddWidget(form: HTMLFormElement): void {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value.trim() ?? "";
    const url = `/api/v1/apps/${encodeURIComponent(form.dataset.app ?? "")}/dashboards/${encodeURIComponent(form.dataset.key ?? "")}`;
    const current = await call<{ name: string; widgets: Record<string, unknown>[] }>("GET", url);
    if (!current.ok) return showError(form, current.error);
    const kind = value("type");
    const metric = value("metric") || "count";
    const widget: Record<string, unknown> = { title: value("title"), table: value("table") };
    if (kind === "number") Object.assign(widget, { type: "number", metric });
    else if (kind === "top") Object.assign(widget, { type: "top", metric, group_by: value("group_by"), limit: 5 });
    else Object.assign(widget, { type: "chart", chart: kind, metrics: [metric], group_by: value("group_by") });
    const saved = await call("PUT", url, { name: current.body.name, widgets: [...current.body.widgets, widget] });
    if (saved.ok) location.reload();
    else showError(form, saved.error);
  });
}

/**
 * A widget's error as its viewer reads it: a setting naming something that is gone (a deleted field, a
 * view, a table, a book not made yet) says so and what to do; any other error says what the API said,
 * with its details' reasons.
 */
function widgetProblem(error: ApiError): string {
  const gone = error.code === "not_found" || error.details.some((detail) => detail.code === "unknown_field" || detail.code === "not_found");
  if (gone) return t("js-widget-gone");
  const reasons = error.details.map(detailReason).join("; ");
  return reasons ? `${errorMessage(error)} ${reasons}` : errorMessage(error);
}
