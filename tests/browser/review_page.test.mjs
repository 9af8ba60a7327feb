// The scan review page in headless Chromium, against the real server: scan a folder of shared GrapheneH images
// (with a positions.csv giving stage coordinates) from the Scans page, review ten candidates by keyboard
// (accept, reject, a relabel, next / previous, an undo), re-rank, export the accepted flakes as CSV, reload the
// page and find every verdict and the relabel kept. Screenshots go to SCREENSHOT_DIR.
// Usage (tests/browser/run.sh gives the server a scan database and SCAN_ROOT):
//   node review_page.test.mjs URL IMAGE_FOLDER SCREENSHOT_DIR
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

import { openPage } from "./browser.mjs";

const [url, imageFolder, screenshotDir] = process.argv.slice(2);
if (!fs.existsSync(imageFolder)) {  // the shared data: must be there in CI, a skip (77) elsewhere
  console.log(`${process.env.CI === "true" ? "FAILED" : "SKIPPED"}: shared images missing: ${imageFolder}`);
  process.exit(process.env.CI === "true" ? 1 : 77);
}
// Every shared GrapheneH image (10): enough candidates to review ten with the server's default models.
const IMAGES = fs.readdirSync(imageFolder).filter((f) => f.endsWith(".jpg")).sort();
const STAGE = { x: 1250.5, y: -830 };  // µm, the first image's position in positions.csv
const SCAN_TIMEOUT_MS = 420000;  // ten images on a busy two-core machine

// The folder to scan, inside the server's scan root.
const folder = path.join(process.env.SCAN_ROOT, "chip");
fs.mkdirSync(folder, { recursive: true });
for (const image of IMAGES) fs.copyFileSync(path.join(imageFolder, image), path.join(folder, image));
fs.writeFileSync(path.join(folder, "positions.csv"),
                 `image,x_um,y_um\n${IMAGES.map((image, i) => `${image},${STAGE.x + 800 * i},${STAGE.y}`).join("\n")}\n`);
fs.mkdirSync(screenshotDir, { recursive: true });

async function apiGet(route) {
  const response = await fetch(new URL(route, url));
  if (!response.ok) assert.fail(`GET ${route}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

const { browser, page, errors } = await openPage({ width: 1500, height: 940 });
try {
  // Create the scan on the Scans page and follow its progress there.
  await page.goto(`${url}#scans`);
  await page.fill("#scan-form [name=name]", "chip");
  await page.fill("#scan-form [name=folder]", "chip");
  await page.click("#scan-form button[type=submit]");
  const started = Date.now();
  await page.waitForFunction((n) => {
    const row = document.querySelector("#scan-table tr[data-scan='chip']");
    return row && row.textContent.includes(`${n} / ${n}`) && !/scanning/.test(row.textContent);
  }, IMAGES.length, { timeout: SCAN_TIMEOUT_MS, polling: 500 });
  const scan = await apiGet("api/scans/chip");
  console.log(`scanned ${scan.images_done} images in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
              `${scan.candidates} candidates (${scan.images_failed} failed)`);
  assert.equal(scan.images_failed, 0, scan.error);
  assert.ok(scan.candidates >= 12, `only ${scan.candidates} candidates: not enough to review ten`);
  await page.screenshot({ path: path.join(screenshotDir, "review_scans.png") });

  // The review: every candidate in the gallery, best score first, the full image beside the first one.
  await page.click("#scan-table a[href='#scans/chip']");
  await page.waitForFunction(() => document.getElementById("review-canvas").dataset.image);
  assert.equal(Number(await page.getAttribute("#review-gallery", "data-total")), scan.candidates);
  const best = (await apiGet("api/scans/chip/candidates?sort=score&order=desc&limit=12")).candidates;
  const cellIds = await page.locator("#review-gallery .cell[data-id]").evaluateAll((cells) =>
    cells.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top) || parseFloat(a.style.left) - parseFloat(b.style.left))
         .map((c) => Number(c.dataset.id)));
  assert.deepEqual(cellIds.slice(0, 12), best.map((c) => c.id), "the gallery is not in score order");
  assert.equal(await page.getAttribute("#review-canvas", "data-candidate"), String(best[0].id));

  // The class filter asks the server: its count is the server's.
  const someClass = best[0].class;
  await page.selectOption("#review-class", someClass);
  const ofClass = (await apiGet(`api/scans/chip/candidates?class=${encodeURIComponent(someClass)}&limit=1`)).total;
  await page.waitForFunction((n) => document.getElementById("review-gallery").dataset.total === String(n), ofClass);
  await page.selectOption("#review-class", "");
  await page.waitForFunction((n) => document.getElementById("review-gallery").dataset.total === String(n), scan.candidates);

  // Ten candidates by keyboard. Number key d: class "d" where the scan has it, else its d-th class; the third
  // candidate gets another class than its own.
  const classes = await page.locator("#review-class option").evaluateAll((o) => o.map((e) => e.value).filter(Boolean));
  const classOfKey = (key) => (classes.includes(key) ? key : classes[Number(key) - 1]);
  const relabelKey = [..."123456789"].find((key) => classOfKey(key) && classOfKey(key) !== best[2].class);
  assert.ok(relabelKey, `one class only (${classes}): no relabel to test`);
  const otherClass = classOfKey(relabelKey);
  await page.click("#review-gallery .cell[data-id]");  // focus on the gallery, at the best candidate
  const keys = ["a", "r", relabelKey, "a", "r", "a", "u", "r", "j", "k", "a", "r", "a", "ArrowRight",
                "ArrowLeft", "r", "a"];
  for (const key of keys) await page.keyboard.press(key);
  const verdicts = ["accept", "reject", "accept", "reject", "reject", "accept", "reject", "accept", "reject", "accept"];
  const accepted = best.slice(0, 10).filter((c, i) => verdicts[i] === "accept").map((c) => c.id).sort((a, b) => a - b);
  const rejected = best.slice(0, 10).filter((c, i) => verdicts[i] === "reject").map((c) => c.id).sort((a, b) => a - b);
  await page.waitForFunction((id) => document.getElementById("review-canvas").dataset.candidate === String(id), best[10].id);
  await page.waitForFunction((n) => document.querySelectorAll("#accepted-table tbody tr").length === n, accepted.length);
  for (const [i, c] of best.slice(0, 10).entries()) {
    const stored = await apiGet(`api/scans/chip/candidates/${c.id}`);
    assert.equal(stored.verdict, verdicts[i], `candidate ${i + 1} (id ${c.id})`);
    assert.equal(stored.class, i === 2 ? otherClass : c.class, `class of candidate ${i + 1} (id ${c.id})`);
  }
  console.log(`reviewed 10 candidates by keyboard: ${accepted.length} accepted, ${rejected.length} rejected, one relabelled`);

  // The accepted list for the transfer stage: the server's centres, and stage positions from positions.csv.
  const first = await apiGet(`api/scans/chip/candidates/${best[0].id}`);
  const row = page.locator(`#accepted-table tr[data-id='${first.id}']`);
  assert.equal(await row.locator("td:nth-child(5)").textContent(), `${first.center[0].toFixed(0)}, ${first.center[1].toFixed(0)}`);
  assert.notEqual(first.stage_x_um, null, "no stage position from positions.csv");
  assert.equal(await row.locator("td:nth-child(7)").textContent(), `${first.stage_x_um.toFixed(1)}, ${first.stage_y_um.toFixed(1)}`);
  await page.screenshot({ path: path.join(screenshotDir, "review_page.png"), fullPage: true });

  // Re-rank: the page lists the new top candidates with their rank before.
  await page.click("#review-rerank");
  await page.waitForSelector("#rerank-status.ok", { timeout: 60000 });
  const rerank = (await apiGet("api/scans/chip")).last_rerank;
  assert.ok(rerank && rerank.negative >= rejected.length && rerank.positive >= accepted.length, JSON.stringify(rerank));
  const moves = await page.locator("#rerank-table tbody tr").evaluateAll((rows) => rows.map((r) => [Number(r.dataset.id), r.dataset.before]));
  const top = (await apiGet(`api/scans/chip/candidates?sort=score&order=desc&limit=${moves.length}`)).candidates;
  assert.deepEqual(moves.map((m) => m[0]), top.map((c) => c.id), "the re-rank table is not the new order");
  assert.ok(moves.some((m) => m[1] !== ""), "no previous rank shown");
  console.log(`re-ranked: ${rerank.moved_into_top_n} moved into the top ${rerank.top_n}, Spearman ${rerank.spearman}`);
  await page.locator(".review-lower").screenshot({ path: path.join(screenshotDir, "review_rerank.png") });

  // Export the accepted flakes as CSV through the page's link.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#accepted-export")]);
  const csv = fs.readFileSync(await download.path(), "utf8").trim().split("\n");
  const idColumn = csv[0].split(",").indexOf("id");
  assert.ok(idColumn >= 0, `no id column in the CSV header: ${csv[0]}`);
  assert.deepEqual(csv.slice(1).map((line) => Number(line.split(",")[idColumn])).sort((a, b) => a - b), accepted);
  console.log(`exported ${csv.length - 1} accepted flakes as CSV (${download.suggestedFilename()})`);

  // Reload: the review comes back, every verdict and the relabel kept.
  await page.reload();
  await page.waitForFunction(() => document.getElementById("review-canvas").dataset.image);
  await page.waitForFunction((n) => document.querySelectorAll("#accepted-table tbody tr").length === n, accepted.length);
  const acceptedRows = await page.locator("#accepted-table tbody tr").evaluateAll((r) => r.map((e) => Number(e.dataset.id)));
  assert.deepEqual(acceptedRows.sort((a, b) => a - b), accepted);
  for (const [verdict, ids] of [["reject", rejected], ["accept", accepted]]) {
    await page.selectOption("#review-verdict", verdict);
    await page.waitForFunction((n) => document.getElementById("review-gallery").dataset.total === String(n), ids.length);
    await page.waitForFunction((n) => document.querySelectorAll("#review-gallery .cell[data-id]").length === n, ids.length);
    const shown = await page.locator("#review-gallery .cell[data-id]").evaluateAll((c) => c.map((e) => Number(e.dataset.id)));
    assert.deepEqual(shown.sort((a, b) => a - b), ids, `${verdict}ed candidates after a reload`);
  }
  assert.equal(await page.getAttribute(`#review-gallery .cell[data-id='${best[2].id}']`, "data-class"), otherClass);
  console.log("after a reload: every verdict and the relabel kept");

  assert.deepEqual(errors, [], errors.join("\n"));
  console.log("review page test passed");
} finally {
  await browser.close();
}
