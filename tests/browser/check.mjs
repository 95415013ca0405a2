// Opens an aiops HTML report in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core, fails on any console error, page error or network request (the report
// must be self-contained), checks that every expected chart is present and drawn, and saves
// a full-page screenshot. Usage: node check.mjs REPORT.html SCREENSHOT.png chart-id,chart-id
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [file, shot, ids] = process.argv.slice(2);
if (!file || !shot) {
  console.error('usage: node check.mjs REPORT.html SCREENSHOT.png [chart-ids]');
  process.exit(2);
}
const userDataDir = mkdtempSync(join(tmpdir(), 'aiops-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
  viewport: { width: 1200, height: 900 },
});
const errors = [];
const requests = [];
const page = context.pages()[0] || await context.newPage();
page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
const url = pathToFileURL(resolve(file)).href;
await page.goto(url, { waitUntil: 'load' });
const missing = [];
for (const id of (ids || '').split(',').filter(Boolean)) {
  const drawn = await page.evaluate((id) => {
    const fig = document.getElementById(id);
    if (!fig) return 'absent';
    const svg = fig.querySelector('svg');
    if (!svg) return 'no svg';
    const marks = svg.querySelectorAll('rect, polyline').length;
    const box = svg.getBoundingClientRect();
    return marks > 0 && box.width > 0 && box.height > 0 ? 'ok' : `empty (${marks} marks)`;
  }, id);
  if (drawn !== 'ok') missing.push(`${id}: ${drawn}`);
}
await page.emulateMedia({ media: 'print' });
const printHeight = await page.evaluate(() => document.body.scrollHeight);
await page.emulateMedia({ media: 'screen' });
await page.screenshot({ path: shot, fullPage: true });
await context.close();
console.log(`console errors: ${errors.length}`);
for (const e of errors) console.log(`  ${e}`);
console.log(`external requests: ${requests.length}`);
for (const r of requests) console.log(`  ${r}`);
console.log(`charts missing: ${missing.length}`);
for (const m of missing) console.log(`  ${m}`);
console.log(`print layout height: ${printHeight}px`);
process.exit(errors.length || requests.length || missing.length ? 1 : 0);
