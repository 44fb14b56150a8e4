// A browser benchmark of the grid (issue #22: "the 100,000-row grid scrolls without blank frames; ≤ 2,000
// cells in the DOM at any time"), not a test: `TENON_BIN=… node bench/scroll.mjs [rows]` (npm run
// bench:scroll). Debian's chromium, headless, 1280×800, against `tenon serve --demo`.
//
// A table of `rows` records (100,000 by default; 5 text fields) is scrolled from three places at three
// steady speeds, one scroll step per animation frame for 300 frames each: 30 px a frame (reading,
// ~1,800 px/s), 120 px (a fast wheel, ~7,200 px/s) and 600 px (a fling, ~36,000 px/s). In every frame,
// just before it is painted, the rows inside the grid's viewport are checked: a row not loaded yet
// (drawn empty, without its expand button) or a spacer showing makes the frame blank. Prints, per speed,
// the blank frames, the most rows blank at once, the largest number of cells in the DOM, and the
// windows fetched.
import { launch, startServer } from "../e2e/harness.mjs";
import { logIn } from "../e2e/tests.mjs";

const rows = Number(process.argv[2] ?? 100_000);
const FRAMES = 300;
const SPEEDS = [
  ["reading", 30],
  ["fast wheel", 120],
  ["fling", 600],
];

const server = await startServer();
const browser = await launch();
try {
  const app = (await server.api("POST", "/api/v1/apps", { name: "滚动基准" })).body;
  const table = (await server.api("POST", `/api/v1/apps/${app.id}/tables`, { name: "签到" })).body;
  const base = `/api/v1/apps/${app.id}/tables/${table.id}`;
  const keys = [];
  for (const name of ["序号", "姓名", "班级", "备注", "地址"]) {
    keys.push((await server.api("POST", `${base}/fields`, { name, type: "text" })).body.key);
  }
  const seeded = Date.now();
  for (let start = 0; start < rows; start += 1000) {
    const records = Array.from({ length: Math.min(1000, rows - start) }, (_, i) => ({
      fields: Object.fromEntries(keys.map((key, k) => [key, `${k === 0 ? "第" : "值"}${start + i + 1}${k === 0 ? "行" : ""}`])),
    }));
    const reply = await server.api("POST", `${base}/records`, { records });
    if (reply.status !== 201) throw new Error(`seeding answered ${reply.status}`);
  }
  console.log(`grid scroll benchmark: ${rows} rows × 5 fields (seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s), ${FRAMES} frames per speed`);
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 800 } });
  const p = await context.newPage();
  await logIn(p, server, `/apps/${app.id}/tables/${table.id}`);
  await p.getByRole("gridcell", { name: "第1行", exact: true }).waitFor();
  let windows = 0;
  p.on("request", (request) => {
    if (request.url().includes("/records?")) windows += 1;
  });
  console.log("speed        px/frame  blank frames  most blank rows  most cells in DOM  windows fetched");
  for (const [i, [label, step]] of SPEEDS.entries()) {
    // Each speed starts in a part of the table not loaded yet: a tenth, four tenths, seven tenths down.
    const start = Math.floor(rows * (0.1 + 0.3 * i));
    await p.locator(".grid-scroll").evaluate((scroller, fraction) => {
      scroller.scrollTop = scroller.scrollHeight * fraction;
    }, start / rows);
    await p.waitForFunction(() => document.querySelectorAll(".grid-scroll tbody tr[data-row] button.expand").length > 10);
    await p.waitForTimeout(300);
    windows = 0;
    const seen = await p.locator(".grid-scroll").evaluate(
      async (scroller, [step, frames]) => {
        let blank = 0;
        let worst = 0;
        let cells = 0;
        const debug = [];
        for (let f = 0; f < frames; f += 1) {
          await new Promise((resolve) => requestAnimationFrame(resolve));
          const view = scroller.getBoundingClientRect();
          // Rows under a sticky header row are not seen.
          const head = Math.max(view.top, scroller.querySelector("thead")?.getBoundingClientRect().bottom ?? view.top);
          let holes = 0;
          for (const tr of scroller.querySelectorAll("tbody tr")) {
            const box = tr.getBoundingClientRect();
            if (box.bottom <= head || box.top >= view.bottom) continue;
            if (tr.classList.contains("spacer") || (tr.dataset.row && !tr.querySelector("button.expand"))) {
              holes += 1;
              if (f === 0) debug.push([tr.outerHTML.slice(0, 160), box.top, box.bottom, view.top, view.bottom, head]);
            }
          }
          if (holes) blank += 1;
          worst = Math.max(worst, holes);
          cells = Math.max(cells, document.querySelectorAll("td, th").length);
          scroller.scrollTop += step;
        }
        return { blank, worst, cells, debug };
      },
      [step, FRAMES],
    );
    if (process.env.DEBUG_SCROLL) console.log(JSON.stringify(seen.debug));
    console.log(
      `${label.padEnd(12)} ${String(step).padStart(8)}  ${`${seen.blank} of ${FRAMES}`.padStart(12)}  ${String(seen.worst).padStart(15)}  ${String(seen.cells).padStart(17)}  ${String(windows).padStart(15)}`,
    );
  }
  await context.close();
} finally {
  await browser.close();
  server.stop();
}
