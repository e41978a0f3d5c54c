// Chat page: two browser pages join the same room over WebSocket (/sub/chat.{room}); B sees A
// join, A's message reaches B, history is replayed on join, and B sees A leave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch } from './harness.mjs';

async function join(page, url, name, room) {
  await page.goto(`${url}/chat.html`);
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join-btn');
  await page.waitForSelector('#status[data-state="open"]');
}

test('two pages chat in one room', { timeout: 45000 }, async () => {
  const srv = await startServer();
  const browser = await launch();
  try {
    const a = await browser.newPage();
    const b = await browser.newPage();
    await join(a, srv.url, 'alice', 'tea');
    await join(b, srv.url, 'bob', 'tea');

    // Presence: A sees B join (and its own join, replayed or live).
    await a.waitForSelector('#log .presence.join:has-text("bob joined")');
    await b.waitForSelector('#log .presence.join:has-text("alice joined")'); // history on join

    await a.fill('#text', 'hello from alice');
    await a.click('#send-btn');
    const line = b.locator('#log .msg', { hasText: 'hello from alice' });
    await line.waitFor();
    assert.equal(await line.locator('.who').textContent(), 'alice');
    // Sent once, shown once on each side, with an id.
    assert.equal(await a.locator('#log .msg').count(), 1);
    assert.ok(Number(await line.getAttribute('data-id')) > 0);

    await b.fill('#text', 'hi alice');
    await b.press('#text', 'Enter');
    await a.waitForSelector('#log .msg:has-text("hi alice")');

    // A late joiner gets the room's history, in order.
    const c = await browser.newPage();
    await join(c, srv.url, 'carol', 'tea');
    await c.waitForSelector('#log .msg:has-text("hi alice")');
    const texts = await c.locator('#log .msg .text').allTextContents();
    assert.deepEqual(texts, ['hello from alice', 'hi alice']);
    await c.screenshot({ path: '/tmp/www-chat.png', fullPage: true });

    // Leaving publishes "left".
    await a.click('#leave-btn');
    await b.waitForSelector('#log .presence.leave:has-text("alice left")');

    // Another room is separate.
    const d = await browser.newPage();
    await join(d, srv.url, 'dave', 'coffee');
    await d.waitForSelector('#log .presence.join:has-text("dave joined")');
    assert.equal(await d.locator('#log .msg').count(), 0);
  } finally {
    await browser.close();
    await srv.stop();
  }
});

test('chat reconnects after a drop and resumes from the last id', { timeout: 45000 }, async () => {
  const srv = await startServer();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    // Record every socket the page opens so the test can see the resume URL.
    const urls = [];
    page.on('websocket', (ws) => urls.push(ws.url()));
    await join(page, srv.url, 'erin', 'drops');
    await page.fill('#text', 'before the drop');
    await page.click('#send-btn');
    await page.waitForSelector('#log .msg:has-text("before the drop")');
    const lastId = Number(await page.locator('#log .msg').last().getAttribute('data-id'));

    // Drop the socket (as a network blip would), publish while it is down, and expect the page
    // to reconnect with since=<last id it saw> and show the message exactly once.
    await page.evaluate(() => window.chatDebug.drop());
    const r = await fetch(`${srv.url}/pub/chat.drops`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'msg', name: 'server', text: 'published meanwhile' }),
    });
    assert.ok(r.ok, `publish: HTTP ${r.status}`);
    await page.waitForSelector('#log .msg:has-text("published meanwhile")');
    await page.waitForSelector('#status[data-state="open"]');
    assert.equal(await page.locator('#log .msg:has-text("before the drop")').count(), 1);
    assert.equal(await page.locator('#log .msg:has-text("published meanwhile")').count(), 1);
    assert.ok(urls.length >= 2, urls.join(' '));
    assert.match(urls[0], /since=0/);
    const resumed = Number(new URL(urls[1]).searchParams.get('since'));
    assert.ok(resumed >= lastId, `resumed since=${resumed}, last id seen ${lastId}`);
  } finally {
    await browser.close();
    await srv.stop();
  }
});
