// Dashboard (/admin): loads with no console error, its figures move while the test drives load
// (HTTP requests, hub publishes, a WebSocket subscriber, AMQP messages), the publish action and
// the stall action work (the accept queue fills while connections pile up, which the chart's
// data and the listeners table show), and a screenshot goes to build/admin.png for review.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { startServer, launch, root } from './harness.mjs';

const BACKLOG = 8;

async function drive(url, n) {
  for (let i = 0; i < n; i++) {
    const e = await fetch(`${url}/echo`, { method: 'POST', body: `ping ${i}` });
    assert.equal(e.status, 200);
    const p = await fetch(`${url}/pub/demo.load`, { method: 'POST', body: `m${i}` });
    assert.equal(p.status, 201);
  }
}

/** Resolves with a WebSocket subscribed to topic (open). */
function wsSubscriber(port, topic, got) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/sub/${topic}`);
  ws.on('message', (d) => got.push(d.toString()));
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject); });
}

async function amqpLoad(port) {
  const amqp = (await import('amqplib')).default;
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const ch = await conn.createChannel();
  await ch.assertQueue('dash.work', { durable: false });
  for (let i = 0; i < 12; i++) ch.sendToQueue('dash.work', Buffer.from(`job ${i}`));
  await ch.prefetch(4);
  await ch.consume('dash.work', () => {}, { noAck: false }); // takes 4, acks none: 8 ready, 4 unacked
  return conn;
}

async function confirm(page) {
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
}

const last = (page) => page.evaluate(() => window.adminState.last);

test('dashboard: live figures, publish and stall actions, screenshot', { timeout: 120000 }, async () => {
  const srv = await startServer(['--debug-stall', 'true', '--backlog', String(BACKLOG),
    '--amqp-listen', '127.0.0.1:0'], ['http', 'amqp']);
  const browser = await launch();
  const errors = [];
  const sockets = [];
  let conn = null;
  const got = [];
  let ws = null;
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    // The demo index links to the dashboard.
    await page.goto(`${srv.url}/`);
    await page.click('a[href="admin"]');
    await page.waitForURL(`${srv.url}/admin`);
    await page.waitForSelector('#status[data-state="open"]');
    await page.waitForFunction(() => window.adminState.ticks >= 2, null, { timeout: 10000 });
    const before = await page.textContent('#k-req');

    // Load: requests and publishes, a WebSocket subscriber, AMQP ready and unacked messages.
    ws = await wsSubscriber(srv.port, 'demo.load', got);
    conn = await amqpLoad(srv.ports.amqp);
    await drive(srv.url, 40);
    await page.waitForFunction(() => {
      const s = window.adminState.last;
      return s && s.requests_per_s > 0 && s.publishes_per_s > 0 && s.deliveries_per_s > 0
        && s.connections.websocket >= 1 && s.amqp.ready === 8 && s.amqp.unacked === 4;
    }, null, { timeout: 10000 });
    assert.notEqual(await page.textContent('#k-req'), before, 'the requests/s figure moved');
    assert.match(await page.textContent('#k-amqp'), /^8 \/ 4$/);
    assert.ok(got.length >= 40, `the WebSocket subscriber got ${got.length}`);

    // Publish action, confirmed in the page; the WebSocket subscriber of that topic gets it.
    await page.fill('#pub-topic', 'demo.load');
    await page.fill('#pub-text', 'from the dashboard');
    await page.click('#publish button[type=submit]');
    await confirm(page);
    await page.waitForFunction(() => /published #\d+ to demo.load, 1 subscriber/.test(document.getElementById('pub-result').textContent));
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(got.includes('from the dashboard'));
    // sys.* is the server's: the same form is refused with the server's reason (Chromium logs
    // the 403 response itself as a console error: that one is expected).
    assert.deepEqual(errors, []);
    await page.fill('#pub-topic', 'sys.stats');
    await page.click('#publish button[type=submit]');
    await confirm(page);
    await page.waitForFunction(() => /HTTP 403: reserved topic/.test(document.getElementById('pub-result').textContent));
    assert.ok(errors.length <= 1 && errors.every((e) => /status of 403/.test(e)), errors.join('\n'));
    errors.length = 0;

    // Stall accepting, then pile connections up: the kernel queues them up to the backlog.
    const { overflows: ovf0 } = { overflows: (await last(page)).listen_overflows };
    await page.fill('#stall-s', '6');
    await page.click('#stall button[type=submit]');
    await confirm(page);
    await page.waitForFunction(() => /accept paused for 6 s/.test(document.getElementById('stall-result').textContent));
    for (let i = 0; i < 4 * BACKLOG; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
    }
    await page.waitForFunction(() => {
      const l = (window.adminState.last.listeners || []).find((x) => x.scheme === 'http');
      return l && l.accept_queue_depth > 0;
    }, null, { timeout: 5000 });
    await page.waitForFunction(() => [...document.querySelectorAll('#t-listeners td.depth')].some((td) => Number(td.textContent) > 0));
    const s = await last(page);
    const l = s.listeners.find((x) => x.scheme === 'http');
    assert.ok(l.accept_queue_depth <= l.accept_queue_limit + l.sockets, 'depth against its limit');
    assert.ok(s.listen_overflows >= ovf0);
    await page.screenshot({ path: path.join(root, 'build', 'admin.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    for (const s of sockets) s.destroy();
    ws?.terminate();
    await conn?.close().catch(() => {});
    await browser.close();
    await srv.stop();
  }
});
