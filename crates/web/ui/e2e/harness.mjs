// The browser-test harness: starts `tenon serve --demo` on a free port, drives Debian's chromium through
// playwright-core, fails a test on any console error, CSP violation, failed request or serious/critical
// axe-core finding, and keeps a screenshot of each step under target/e2e/.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, "../../../..");
export const shots = join(repo, "target/e2e");
const axeSource = readFileSync(join(here, "../node_modules/axe-core/axe.min.js"), "utf8");

export function chromiumPath() {
  for (const path of [process.env.TENON_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (path && existsSync(path)) return path;
  }
  throw new Error("Debian's chromium is not installed: apt-get install -y chromium fonts-wqy-microhei");
}

/** Starts `tenon serve --demo` and resolves with its URL and the demo credentials. */
export async function startServer() {
  const bin = process.env.TENON_BIN;
  if (!bin) throw new Error("TENON_BIN must name the tenon binary");
  const data = mkdtempSync(join(tmpdir(), "tenon-e2e-"));
  const child = spawn(bin, ["--data", data, "serve", "--demo", "--listen", "127.0.0.1:0", "--insecure-cookies"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TENON_LOG: "warn" },
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (chunk) => (err += chunk));
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tenon did not start:\n${out}\n${err}`)), 60000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const url = out.match(/listening on (http:\/\/[0-9.:]+)/)?.[1];
      const login = out.match(/admin login: (\S+) \/ (\S+)/);
      const token = out.match(/API token:\s+(\S+)/)?.[1];
      if (url && login && token) {
        clearTimeout(timer);
        resolve({ url, email: login[1], password: login[2], token });
      }
    });
    child.on("exit", (code) => reject(new Error(`tenon exited with ${code}:\n${out}\n${err}`)));
  });
  return {
    ...info,
    /** The data folder, for CLI commands run beside the server (`tenon --data <it> org create …`). */
    data,
    bin,
    async api(method, path, body) {
      const response = await fetch(info.url + path, {
        method,
        headers: { authorization: `Bearer ${info.token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    stop() {
      child.kill("SIGTERM");
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** A browser page that records every problem the test must fail on. */
export async function openPage(browser, server, options = {}) {
  const context = await browser.newContext({
    // The browser's language: its Accept-Language header.
    locale: options.locale ?? "en-US",
    viewport: options.viewport ?? { width: 1280, height: 800 },
    // The browser's own time zone (the page must show date-times in the organization's, whatever this is).
    timezoneId: options.timezoneId,
    // A visitor with JavaScript turned off (the public form page must work without it).
    javaScriptEnabled: options.javaScriptEnabled ?? true,
  });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (message) => {
    // The API's 4xx answers are part of the UI's flows (a wrong password, a refused value); the browser
    // logs each as a failed resource load. Server errors and missing files are caught below.
    if (message.type() === "error" && !/the server responded with a status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => {
    // A navigation away cancels requests in flight; that is not a failure.
    if (request.failure()?.errorText !== "net::ERR_ABORTED") {
      problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() >= 500) problems.push(`server error ${response.status()}: ${response.url()}`);
    if (response.status() === 404 && !new URL(response.url()).pathname.startsWith("/api/")) {
      problems.push(`not found: ${response.url()}`);
    }
  });
  page.problems = problems;
  page.server = server;
  return page;
}

/** Runs axe-core on the page; serious and critical findings are problems. */
export async function checkAccessibility(page, label) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const found = await axe.run(document, { resultTypes: ["violations"] });
    return found.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  for (const finding of result) page.problems.push(`axe on ${label}: ${finding}`);
}

export async function screenshot(page, name) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Text on the page that looks English (for zh-CN pages): visible text nodes and accessible labels. */
export async function englishText(page, allowed = []) {
  return page.evaluate((allowed) => {
    const found = [];
    const english = /[A-Za-z]{2,}/;
    const ok = (text) => !english.test(allowed.reduce((rest, word) => rest.split(word).join(""), text));
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest("script, style, [data-user-content], [hidden]")) continue;
      // A language's name in that language (the language switch's "English") is not untranslated.
      if (parent.closest("[lang]")?.getAttribute("lang") !== document.documentElement.lang) continue;
      const text = node.textContent ?? "";
      if (text.trim() && !ok(text)) found.push(text.trim());
    }
    for (const element of document.querySelectorAll("[aria-label], [title], [placeholder]")) {
      if (element.closest("[data-user-content]")) continue;
      for (const name of ["aria-label", "title", "placeholder"]) {
        const value = element.getAttribute(name);
        if (value && !ok(value)) found.push(`${name}="${value}"`);
      }
    }
    const title = document.title;
    if (!ok(title.replace(/ · Tenon$/, ""))) found.push(`title: ${title}`);
    return found;
  }, allowed);
}

export async function launch() {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--headless", "--no-sandbox"] });
}

export { shots as screenshotDir };
