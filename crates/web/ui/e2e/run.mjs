// Runs every browser test against one `tenon serve --demo`, each test in a fresh browser context.
// Prints "N passed, N failed" and exits non-zero on any failure. `node e2e/run.mjs [name-filter]`.
import { launch, screenshotDir, startServer } from "./harness.mjs";
import { tests } from "./tests.mjs";
import "./cells.mjs";
import "./fields.mjs";
import "./views.mjs";
import "./boards.mjs";
import "./board_settings.mjs";
import "./forms.mjs";
import "./dashboards.mjs";
import "./shares.mjs";
import "./master_detail.mjs";
import "./admin.mjs";
import "./attachments.mjs";
import "./card_order.mjs";
import "./record_links.mjs";

const filter = process.argv[2] ?? "";
const server = await startServer();
const browser = await launch();
let passed = 0;
let failed = 0;
try {
  for (const [name, test] of Object.entries(tests)) {
    if (!name.includes(filter)) continue;
    const started = Date.now();
    const pages = [];
    try {
      await test({ browser, server, pages });
      const problems = pages.flatMap((page) => page.problems);
      if (problems.length) throw new Error(problems.join("\n"));
      passed += 1;
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      failed += 1;
      // A picture of where it stopped.
      for (const [i, page] of pages.entries()) {
        await page.screenshot({ path: `${screenshotDir}/FAIL-${name.slice(0, 40).replace(/[^\w]+/g, "-")}-${i}.png` }).catch(() => {});
      }
      console.log(`FAIL ${name}\n${String(error?.stack ?? error).replace(/^/gm, "     ")}`);
    } finally {
      for (const page of pages) await page.context().close().catch(() => {});
    }
  }
} finally {
  await browser.close();
  server.stop();
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
