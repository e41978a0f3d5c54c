// Live page (www/js/live.js on @switchyard/client): a subscription on /sub/{topic} whose
// connection is cut under it reconnects with since= the last id and loses no message, including
// those published while it was disconnected; and when the server is killed and started again
// mid-stream, the page comes back by itself, shows an explicit reset and then every id of the
// new server once.
//
// How the connection is cut: the browser talks to the server through a small TCP relay in this
// file, and the test destroys every relayed connection (both sides: the browser sees the stream
// end abruptly, the server sees its subscriber leave). The server itself never idles an SSE
// stream out (sse_session turns the idle timeout off; heartbeats keep it alive), so a server
// setting cannot be used to drop it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { startServer, launch, root } from './harness.mjs';

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

test('the live page resumes after its connection is dropped, losing nothing', { timeout: 55000 }, async () => {
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
    // Published while the page is disconnected (the client waits its jittered backoff before
    // it reconnects with since=10).
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
    // The page loaded the one copy of the client, and it resumed with the last id seen before
    // the drop (the first request was live: no since).
    assert.ok(relay.heads().some((h) => h.startsWith('GET /lib/switchyard-client/index.js ')));
    const resumes = relay.heads().filter((h) => h.startsWith(`GET /sub/${TOPIC}`));
    assert.ok(resumes.length >= 2, resumes.join('\n---\n'));
    assert.doesNotMatch(resumes[0].split('\r\n')[0], /since=/);
    assert.match(resumes[1].split('\r\n')[0], /[?&]since=10[& ]/);
    assert.match(resumes[1], /^upgrade: websocket$/im); // auto: WebSocket first
  } finally {
    await browser.close();
    await relay.close();
    await srv.stop();
  }
});

// Publishes ids from..to of one server's life ("epoch"), checking the ids it assigns.
async function publishEpoch(url, topic, from, to, epoch) {
  for (let i = from; i <= to; i++) {
    const r = await fetch(`${url}/pub/${topic}`, {
      method: 'POST', headers: { 'content-type': 'text/plain' }, body: `epoch ${epoch} #${i}`,
    });
    assert.ok(r.ok, `publish: HTTP ${r.status}`);
    assert.equal((await r.json()).id, i);
  }
}

// '' is the page's default (auto: WebSocket here); sse is picked with ?transport=sse.
for (const transport of ['', 'sse']) {
  const name = transport || 'auto';
  test(`live page (${name}): server killed and restarted mid-stream, every id once`, { timeout: 60000 }, async () => {
    const topic = `live.restart-${name}`;
    let srv = await startServer();
    const { port } = srv;
    const browser = await launch();
    try {
      const page = await browser.newPage();
      const q = new URLSearchParams({ topic, ...(transport ? { transport } : {}) });
      await page.goto(`${srv.url}/live.html?${q}`);
      await page.waitForSelector('#status[data-state="open"]');
      await publishEpoch(srv.url, topic, 1, 12, 1);
      await page.waitForFunction(() => window.liveState.lastId === 12);

      srv.child.kill('SIGKILL');
      await new Promise((ok) => { if (srv.child.exitCode !== null) ok(); else srv.child.once('exit', ok); });
      await page.waitForSelector('#status[data-state="retry"]', { timeout: 10000 });
      await new Promise((ok) => setTimeout(ok, 500)); // a few failed attempts on a closed port
      srv = await startServer([], ['http'], { listen: `127.0.0.1:${port}` });
      // Published before the page is back: it gets them from the new server's history.
      await publishEpoch(srv.url, topic, 1, 5, 2);
      await page.waitForFunction(() => window.liveState.conns >= 2, null, { timeout: 20000 });
      await publishEpoch(srv.url, topic, 6, 8, 2); // and live
      await page.waitForFunction(() => window.liveState.msgs === 20, null, { timeout: 20000 });

      const rows = await page.locator('#stream li').evaluateAll((lis) => lis.map((li) => (
        li.dataset.id ? `${li.dataset.epoch}:${li.dataset.id} ${li.querySelector('.data').textContent}`
          : `gap:${li.dataset.gap}`)));
      const want = [
        ...Array.from({ length: 12 }, (_, i) => `0:${i + 1} epoch 1 #${i + 1}`),
        'gap:reset',
        ...Array.from({ length: 8 }, (_, i) => `1:${i + 1} epoch 2 #${i + 1}`),
      ];
      assert.deepEqual(rows, want);
      const s = await page.evaluate(() => ({ ...window.liveState, sub: undefined }));
      assert.equal(s.holes, 0);
      assert.equal(s.resets, 1);
      assert.equal(s.transport, transport || 'websocket');
      assert.match(await page.locator('#status').textContent(), /resumed/);
      await page.screenshot({ path: path.join(root, 'build', `www-live-restart-${name}.png`), fullPage: true });
    } finally {
      await browser.close();
      if (srv.child.exitCode === null && srv.child.signalCode === null) await srv.stop();
    }
  });
}

