// Dashboard against the management API (RabbitMQ 3.10's shape): the queue and connection
// tables fill from sys.queues / sys.connections, and the purge, delete and close actions,
// confirmed in the page with Basic credentials asked once (guest/guest), act through
// DELETE /api/queues/{vhost}/{name}/contents, DELETE /api/queues/{vhost}/{name} and
// DELETE /api/connections/{name}. The page is loaded from the main port with
// management.on_main_port, so its relative api/ URLs reach the management API there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, launch, root } from './harness.mjs';

const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

async function api(url, p) {
  const r = await fetch(`${url}/api/${p}`, { headers: { authorization: AUTH } });
  return { status: r.status, body: r.status === 200 ? await r.json() : null };
}

/** A row of a dashboard table whose cells match: {col: text}. Evaluated in the page. */
function rowWhere(page, table, match) {
  return page.waitForFunction(([t, m]) => [...document.querySelectorAll(`#${t} tr`)].find((tr) =>
    Object.entries(m).every(([i, v]) => (tr.children[i]?.textContent ?? '').endsWith(v))) || null,
  [table, match], { timeout: 15000 });
}

async function confirmAndLogin(page, login) {
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  if (!login) return;
  await page.waitForSelector('#login[open]');
  assert.equal(await page.inputValue('#login-user'), 'guest');
  await page.click('#login-ok');
}

test('dashboard tables and actions against the management API', { timeout: 120000 }, async () => {
  const srv = await startServer(['--amqp-listen', '127.0.0.1:0', '--management-on-main-port', 'true'],
    ['http', 'amqp']);
  const amqp = (await import('amqplib')).default;
  const browser = await launch();
  const errors = [];
  const conns = [];
  try {
    const keep = await amqp.connect(`amqp://guest:guest@127.0.0.1:${srv.ports.amqp}`);
    conns.push(keep);
    const ch = await keep.createChannel();
    await ch.assertQueue('dash.purge', { durable: false });
    await ch.assertQueue('dash.delete', { durable: false });
    for (let i = 0; i < 5; i++) ch.sendToQueue('dash.purge', Buffer.from(`p${i}`));
    for (let i = 0; i < 2; i++) ch.sendToQueue('dash.delete', Buffer.from(`d${i}`));
    const victim = await amqp.connect(`amqp://guest:guest@127.0.0.1:${srv.ports.amqp}`);
    conns.push(victim);
    const victimPort = victim.connection.stream.localPort;
    const closed = new Promise((resolve) => victim.on('close', resolve));
    victim.on('error', () => {}); // CONNECTION_FORCED arrives as an error before close

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${srv.url}/admin`);
    await page.waitForSelector('#status[data-state="open"]');

    // Queues: vhost, name, ready, unacked, consumers (RabbitMQ's fields).
    await rowWhere(page, 't-queues', { 0: '/', 1: 'dash.purge', 2: '5', 3: '0', 4: '0' });
    await rowWhere(page, 't-queues', { 1: 'dash.delete', 2: '2' });
    // Connections: the victim by its peer port, protocol named.
    const row = await rowWhere(page, 't-connections', { 2: `:${victimPort}` });
    assert.match(await row.evaluate((tr) => tr.children[1].textContent), /AMQP/i);

    // Purge (first management action: the credentials are asked once).
    await page.click('#t-queues tr[data-key="/|dash.purge"] button:has-text("Purge")');
    await confirmAndLogin(page, true);
    await rowWhere(page, 't-queues', { 1: 'dash.purge', 2: '0' });
    const purged = await api(srv.url, 'queues/%2F/dash.purge');
    assert.equal(purged.status, 200);
    assert.equal(purged.body.messages_ready, 0);

    // Delete: no second login.
    await page.click('#t-queues tr[data-key="/|dash.delete"] button:has-text("Delete")');
    await confirmAndLogin(page, false);
    await page.waitForFunction(() => !document.querySelector('#t-queues tr[data-key="/|dash.delete"]'), null, { timeout: 15000 });
    assert.equal((await api(srv.url, 'queues/%2F/dash.delete')).status, 404);

    // Close the victim connection; amqplib sees the server close it.
    await row.evaluate((tr) => tr.querySelector('button').click());
    await confirmAndLogin(page, false);
    await closed;
    await page.waitForFunction((p) => ![...document.querySelectorAll('#t-connections tr')]
      .some((tr) => (tr.children[2]?.textContent ?? '').endsWith(`:${p}`)), victimPort, { timeout: 15000 });
    assert.ok(await page.isHidden('#action-error'));
    await page.screenshot({ path: path.join(root, 'build', 'admin_mgmt.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    for (const c of conns) await c.close().catch(() => {});
    await browser.close();
    await srv.stop();
  }
});
