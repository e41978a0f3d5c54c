// Live page: an EventSource on /sub/{topic} whose connection the server cuts (a short idle
// timeout and no heartbeats) reconnects with Last-Event-ID and loses no message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch } from './harness.mjs';

const TOPIC = 'live.resume';

async function publish(url, n, from) {
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${url}/pub/${TOPIC}`, {
      method: 'POST', headers: { 'content-type': 'text/plain' }, body: `message ${from + i}`,
    });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.id, from + i);
  }
}

test('EventSource resumes after the server drops it, losing nothing', { timeout: 55000 }, async () => {
  const srv = await startServer(['--idle-timeout-ms', '1500', '--hub-sse-heartbeat-ms', '60000']);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/live.html?topic=${TOPIC}`);
    await page.waitForSelector('#status[data-state="open"]');
    const state = () => page.evaluate(() => {
      const s = window.liveState;
      return { msgs: s.msgs, gaps: s.gaps, holes: s.holes, conns: s.conns, lastId: s.lastId };
    });

    const N = 30;
    await publish(srv.url, 10, 1);
    await page.waitForFunction(() => window.liveState.lastId === 10);

    // Nothing is written for longer than the idle timeout: the server cuts the stream.
    await page.waitForSelector('#status[data-state="retry"]', { timeout: 10000 });
    // Published while the page is disconnected (the browser waits before it reconnects).
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
  } finally {
    await browser.close();
    await srv.stop();
  }
});
