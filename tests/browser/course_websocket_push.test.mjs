// The course's websocket-push client, unchanged, against build/bin/course-websocket-push: the
// three lines of browser code in the comments of ../shared/course/websocket-push/index.js run in
// two headless Chromium pages as pasted into a console: the first two lines together, the third
// (ws.send) once the socket is open. The snippet's fixed ws://localhost:8080 reaches the test's
// port through Chromium's host resolver rules; the pages are opened on the server's origin.
// Both pages must log the course server's texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, courseDir } from './harness.mjs';

// The commented client lines after "//client code", comment markers removed, nothing else.
function courseClient() {
  const src = fs.readFileSync(path.join(courseDir(), 'websocket-push', 'index.js'), 'utf8');
  const after = src.slice(src.indexOf('//client code'));
  const lines = after.split('\n').slice(1).map((l) => l.trim())
    .filter((l) => l.startsWith('//')).map((l) => l.slice(2));
  assert.equal(lines.length, 3, `expected the course's three client lines, got ${lines}`);
  return lines;
}

async function open(browser, url, lines) {
  const page = await browser.newPage();
  const log = [];  // what the snippet logs (not the page's load errors)
  page.on('console', (m) => { if (m.text().startsWith('Received: ')) log.push(m.text()); });
  // A page of the server's own origin (its 426 text): Chromium's local network access checks
  // refuse a socket to localhost from about:blank.
  await page.goto(url);
  // The first two lines pasted together (the handler is set before any message can arrive),
  // the third once the socket is open (before, send() throws in a browser).
  await page.addScriptTag({ content: `${lines[0]}\n${lines[1]}` });
  await page.waitForFunction('ws.readyState === WebSocket.OPEN');
  return { page, log };
}

async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('the course websocket-push client chats through a route', { timeout: 60000 }, async () => {
  const lines = courseClient();
  const srv = await startServer([], ['http'], { binary: 'course-websocket-push' });
  const browser = await launch([`--host-resolver-rules=MAP localhost:8080 127.0.0.1:${srv.port}`]);
  try {
    const a = await open(browser, srv.url, lines);
    await until(() => a.log.length >= 1, 'A to see its own arrival');
    const joined = /^Received: User(\d+) just connected\.$/;
    const pa = a.log[0].match(joined)?.[1];
    assert.ok(pa, `A's first message: ${a.log[0]}`);

    const b = await open(browser, srv.url, lines);
    await until(() => b.log.length >= 1 && a.log.length >= 2, 'both to see B arrive');
    const pb = b.log[0].match(joined)?.[1];
    assert.ok(pb && pb !== pa, `B's first message: ${b.log[0]}`);
    assert.equal(a.log[1], `Received: User${pb} just connected.`);

    await a.page.addScriptTag({ content: lines[2] });
    await b.page.addScriptTag({ content: lines[2] });
    const says = (p) => `Received: User${p} says: Hello! I'm client`;
    for (const [name, c] of [['A', a], ['B', b]]) {
      await until(() => c.log.includes(says(pa)) && c.log.includes(says(pb)), `${name} to get both`);
    }
    // Nothing else: a newcomer gets no history (as the course's server), no duplicates.
    assert.deepEqual(b.log.slice().sort(), [b.log[0], says(pa), says(pb)].sort());
    assert.equal(a.log.length, 4, a.log.join('\n'));
  } finally {
    await browser.close();
    await srv.stop();
  }
});
