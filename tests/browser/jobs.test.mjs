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

// The page's own worker is off; an AMQP consumer (amqplib, the course demo's way) takes the job
// from the broker queue "jobs", reports progress and its result to the reply-to queue, then
// acks: all four watchers on the page follow it to done.
test('an AMQP worker does the page\'s job', { timeout: 50000 }, async () => {
  const amqp = (await import('amqplib')).default;
  const srv = await startServer(['--amqp-listen', '127.0.0.1:0'], ['http', 'amqp']);
  const browser = await launch();
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${srv.ports.amqp}`);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv.url}/jobs.html`);
    await page.uncheck('#worker-on');
    const ch = await conn.createChannel();
    await ch.assertQueue('jobs', { durable: true });
    await ch.prefetch(1);
    const taken = new Promise((resolve) => {
      ch.consume('jobs', async (msg) => {
        const { replyTo, correlationId } = msg.properties;
        for (const progress of [25, 50, 75]) {
          ch.sendToQueue(replyTo, Buffer.from(JSON.stringify({ progress })), { correlationId });
          await new Promise((r) => setTimeout(r, 150));
        }
        const result = `amqp worker: ${msg.content.toString()}`;
        ch.sendToQueue(replyTo, Buffer.from(JSON.stringify({ result })), { correlationId });
        ch.ack(msg);
        resolve(correlationId);
      });
    });
    await page.fill('#payload', 'job for amqp');
    await page.click('#submit-btn');
    await page.waitForSelector('#job-id:has-text("#")');
    const jobId = (await page.locator('#job-id').textContent()).replace('#', '');
    assert.equal(await taken, jobId);
    for (const p of PANELS) {
      await page.waitForSelector(`${p}[data-done="true"]`, { timeout: 25000 });
      assert.equal(await page.locator(`${p} .pct`).textContent(), '100%', p);
    }
    const job = await (await fetch(`${srv.url}/jobs/${jobId}`)).json();
    assert.equal(job.status, 'done');
    assert.equal(job.result, 'amqp worker: job for amqp');
    assert.deepEqual(errors, []);
  } finally {
    await conn.close();
    await browser.close();
    await srv.stop();
  }
});
