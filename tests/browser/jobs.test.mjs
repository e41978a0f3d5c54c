// Jobs page: a submitted job, worked by the page's own worker (GET /jobs/next, PUT /jobs/{id}),
// reaches 100% in all four watchers: short poll, long poll, SSE and WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch } from './harness.mjs';

const PANELS = ['#w-short', '#w-long', '#w-sse', '#w-ws'];

test('a job reaches 100% in all four watchers', { timeout: 50000 }, async () => {
  const srv = await startServer();
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv.url}/jobs.html`);
    await page.fill('#payload', 'browser test job');
    await page.click('#submit-btn');
    await page.waitForSelector('#job-id:has-text("#")');

    for (const p of PANELS) {
      await page.waitForSelector(`${p}[data-done="true"]`, { timeout: 25000 });
      assert.equal(await page.locator(`${p} .pct`).textContent(), '100%', p);
      assert.equal(await page.locator(`${p} progress`).getAttribute('value'), '100', p);
    }
    const jobId = (await page.locator('#job-id').textContent()).replace('#', '');
    const job = await (await fetch(`${srv.url}/jobs/${jobId}`)).json();
    assert.equal(Number(job.progress), 100);

    const num = async (p, f) => Number((await page.locator(`${p} dd.${f}`).textContent()).split(' ')[0]);
    // The trade-off, visible: push transports see every update over one connection; long
    // polling needs about one request per update; short polling skips updates between polls.
    for (const p of ['#w-sse', '#w-ws']) {
      assert.equal(await num(p, 'requests'), 1, p);
      assert.equal(await num(p, 'updates'), 21, p);
    }
    assert.ok(await num('#w-long', 'requests') >= 10);
    assert.ok(await num('#w-short', 'updates') < 21);
    assert.deepEqual(errors, []);
    await page.screenshot({ path: '/tmp/www-jobs.png', fullPage: true });
  } finally {
    await browser.close();
    await srv.stop();
  }
});
