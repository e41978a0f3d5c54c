// Live page: an EventSource on /sub/{topic} whose connection is cut under it reconnects with
// Last-Event-ID and loses no message, including those published while it was disconnected.
//
// How the connection is cut: the browser talks to the server through a small TCP relay in this
// file, and the test destroys every relayed connection (both sides: the browser sees the stream
// end abruptly, the server sees its subscriber leave). The server itself never idles an SSE
// stream out (sse_session turns the idle timeout off; heartbeats keep it alive), so a server
// setting cannot be used to drop it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, launch } from './harness.mjs';

/** A TCP relay to 127.0.0.1:port; drop() destroys every open relayed connection. */
function startRelay(port) {
  const pairs = new Set();
  const sent = []; // everything the browser sent (request heads; these pages send tiny bodies)
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(port, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    client.on('data', (d) => sent.push(d.toString('latin1')));
    client.pipe(upstream).pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); pairs.delete(pair); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}`,
      accepted: () => accepted,
      heads: () => sent.join('').split('\r\n\r\n').map((h) => h.replace(/^[^]*?(?=GET |POST )/, '')),
      open: () => pairs.size,
      drop: () => { const n = pairs.size; for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); } return n; },
      close: () => new Promise((r) => { for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); } server.close(r); }),
    }));
  });
}

const TOPIC = 'live.resume';

async function publish(url, n, from) {
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${url}/pub/${TOPIC}`, {
      method: 'POST', headers: { 'content-type': 'text/plain' }, body: `message ${from + i}`,
    });
    assert.ok(r.ok, `publish: HTTP ${r.status}`);
    const body = await r.json();
    assert.equal(body.id, from + i);
  }
}

test('EventSource resumes after its connection is dropped, losing nothing', { timeout: 55000 }, async () => {
  const srv = await startServer();
  const relay = await startRelay(srv.port);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${relay.url}/live.html?topic=${TOPIC}`);
    await page.waitForSelector('#status[data-state="open"]');
    const state = () => page.evaluate(() => {
      const s = window.liveState;
      return { msgs: s.msgs, gaps: s.gaps, holes: s.holes, conns: s.conns, lastId: s.lastId };
    });

    const N = 30;
    await publish(srv.url, 10, 1);
    await page.waitForFunction(() => window.liveState.lastId === 10);

    // Cut the stream (and any other connection of the page) under the browser.
    assert.ok(relay.drop() >= 1);
    await page.waitForSelector('#status[data-state="retry"]', { timeout: 10000 });
    // Published while the page is disconnected (the browser waits `retry` ms before it
    // reconnects with Last-Event-ID).
    await publish(srv.url, 10, 11);
    await page.waitForFunction(() => window.liveState.conns >= 2, null, { timeout: 15000 });
    await page.waitForFunction(() => window.liveState.lastId === 20, null, { timeout: 15000 });

    // And after the resume, live again; through the page's own publish form for the last ones.
    for (let i = 21; i <= N; i++) {
      await page.fill('#text', `message ${i}`);
      await page.click('#publish button');
      await page.waitForFunction((id) => window.liveState.lastId === id, i);
    }

    const ids = (await page.locator('#stream li[data-id]').evaluateAll(
      (lis) => lis.map((li) => Number(li.dataset.id))));
    assert.deepEqual(ids, Array.from({ length: N }, (_, i) => i + 1));
    const s = await state();
    assert.equal(s.msgs, N);
    assert.equal(s.gaps, 0);
    assert.equal(s.holes, 0);
    assert.ok(s.conns >= 2, `connections: ${s.conns}`);
    assert.equal(await page.locator('#n-msgs').textContent(), String(N));
    const texts = await page.locator('#stream li[data-id] .data').allTextContents();
    assert.equal(texts[24], 'message 25');
    await page.screenshot({ path: '/tmp/www-live.png', fullPage: true });
    // The browser resumed with the last id it had seen before the drop.
    const resumes = relay.heads().filter((h) => h.startsWith(`GET /sub/${TOPIC}`));
    assert.ok(resumes.length >= 2, resumes.join('\n---\n'));
    assert.match(resumes[1], /^last-event-id: 10$/im);
  } finally {
    await browser.close();
    await relay.close();
    await srv.stop();
  }
});
