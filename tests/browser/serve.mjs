// Drives the aiops approval page in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core, as an approver and then an operator would: log in, filter the list,
// open an item, approve it with a justification; log in as an operator, apply, roll back.
// Fails on any console error, page error or failed request; saves screenshots.
// Usage: node serve.mjs BASE_URL APPROVER_TOKEN OPERATOR_TOKEN ITEM_ID NAMESPACE SHOT_DIR
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, approverToken, operatorToken, id, namespace, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node serve.mjs BASE_URL APPROVER_TOKEN OPERATOR_TOKEN ITEM_ID NAMESPACE SHOT_DIR');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const errors = [];
const steps = [];
function watch(page) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
}
function expect(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
  steps.push(what);
}
async function login(context, token) {
  const page = await context.newPage();
  watch(page);
  await page.goto(`${base}/queue`);
  expect(page.url().includes('/login'), 'an anonymous visit lands on the login page');
  await page.fill('#token', token);
  await Promise.all([page.waitForNavigation(), page.click('form.login button[type=submit]')]);
  expect(new URL(page.url()).pathname === '/queue', 'login returns to the queue');
  return page;
}
async function stateOf(page) {
  const el = await page.$('#state');
  if (!el) {
    const text = (await page.textContent('main')) || '';
    return `no state on the page: ${text.trim().slice(0, 400)}`;
  }
  return (await el.textContent()).trim();
}

try {
  // The approver.
  const a = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await login(a, approverToken);
  await page.selectOption('select[name=state]', 'pending');
  await page.fill('input[name=namespace]', namespace);
  await Promise.all([page.waitForNavigation(), page.click('#filters button[type=submit]')]);
  const url = new URL(page.url());
  expect(url.searchParams.get('state') === 'pending' && url.searchParams.get('namespace') === namespace,
    'the filters are in the URL');
  const targets = await page.$$eval('#items tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent.trim()));
  expect(targets.length > 0 && targets.every((t) => t.split('/')[1] === namespace), `every row is in ${namespace}`);
  await page.screenshot({ path: join(shots, 'serve-list.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/queue/${id}"]`)]);
  expect(await stateOf(page) === 'pending', 'the item is pending');
  expect(await page.isVisible('#patch') && await page.isVisible('#rollback-plan'), 'patch and rollback plan shown');
  const marks = await page.$$eval('figure.chart svg polyline', (p) => p.length);
  expect(marks > 0, 'the usage chart is drawn');
  await page.screenshot({ path: join(shots, 'serve-detail.png'), fullPage: true });
  await page.fill('#justification', 'p99 plus 30% fits; approved in the browser test');
  await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  expect(await stateOf(page) === 'approved', 'approved');
  expect((await page.textContent('#flash')).includes('Approved'), 'a confirmation is shown');
  expect(!(await page.isVisible('#apply')), 'an approver has no apply button');
  expect((await page.textContent('#history')).includes('approved in the browser test'), 'the history shows the justification');
  await a.close();

  // The operator.
  const o = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const op = await login(o, operatorToken);
  await op.goto(`${base}/queue/${id}`);
  await Promise.all([op.waitForNavigation(), op.click('#apply')]);
  expect(await stateOf(op) === 'applied', 'applied');
  await Promise.all([op.waitForNavigation(), op.click('#rollback')]);
  const after = await stateOf(op);
  expect(after === 'rolled_back', `rolled back (page: ${after})`);
  await op.screenshot({ path: join(shots, 'serve-rolled-back.png'), fullPage: true });
  const phr = await op.request.get(`${base}/queue/${id}/phr`);
  expect(phr.ok() && (await phr.text()).includes('approved in the browser test'), 'the PHR page shows the decision');
  await o.close();
} catch (e) {
  errors.push(String(e && e.stack || e));
}
await browser.close();
console.log(JSON.stringify({ steps, errors }, null, 1));
process.exit(errors.length ? 1 : 0);
