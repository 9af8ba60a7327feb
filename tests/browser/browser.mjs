// Debian's headless Chromium through playwright-core, with every page error and console error collected
// (the tests fail on any).
import { chromium } from "playwright-core";

export async function openPage(viewport) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const errors = [];
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") errors.push(`console error: ${m.text()}`); });
  return { browser, page, errors };
}
