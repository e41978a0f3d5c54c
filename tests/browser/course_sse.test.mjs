// The course's server-sent-events client, run unchanged in headless Chromium against
// build/bin/course-sse: the snippet in the comment of ../shared/course/server-sent-events/index.js
// (new EventSource("http://localhost:8080/stream"); sse.onmessage = console.log), in a page of
// http://localhost:8080/ as a student would paste it. The events arrive once a second with ids;
// the test cuts the connection (ss -K) and the browser's reconnect (Last-Event-ID) resumes: the
// events published while it was away arrive, none twice. Runs in a private network namespace
// (harness.mjs inPrivateNetwork) so that port 8080 is free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launch, root, inPrivateNetwork } from './harness.mjs';

const self = fileURLToPath(import.meta.url);
const course = process.env.SY_COURSE_DIR || path.resolve(root, '..', 'shared', 'course');
const sourceOf = (f) => [path.join(course, f), path.join('/work/shared/course', f)]
  .find((p) => fs.existsSync(p));

const outer = inPrivateNetwork(self);
if (outer) {
  test('course SSE client in a private network namespace', { skip: outer.skip }, () => {
    assert.equal(outer.status, 0, outer.output);
  });
} else {
  test('the course EventSource snippet streams and resumes after a cut', async () => {
    const file = sourceOf('server-sent-events/index.js');
    assert.ok(file, 'the course code beside the project (../shared/course)');
    const snippet = /\/\* Client Code([\s\S]*?)\*\//.exec(fs.readFileSync(file, 'utf8'))[1].trim();
    assert.match(snippet, /new EventSource\("http:\/\/localhost:8080\/stream"\)/);
    const srv = await startServer([], ['http'], { binary: 'course-sse', listen: '127.0.0.1:8080' });
    const browser = await launch();
    try {
      const page = await browser.newPage();
      const events = [];
      let chain = Promise.resolve();
      page.on('console', (msg) => {
        const [arg] = msg.args();
        if (msg.type() !== 'log' || !arg) return;  // the browser's own reports (a lost stream)
        chain = chain.then(async () => {
          events.push(await arg.evaluate((e) => ({ type: e.type, data: e.data, id: e.lastEventId })));
        });
      });
      await page.goto('http://localhost:8080/');
      assert.equal(await page.textContent('body'), 'hello!');
      await page.addScriptTag({ content: snippet });  // as pasted into the console
      const until = async (n, ms) => {
        const end = Date.now() + ms;
        while (events.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        await chain;
        assert.ok(events.length >= n, `${events.length} events of ${n}: ${JSON.stringify(events)}`);
      };
      await until(3, 8000);
      // Cut the stream under the browser (its socket aborted, as a network drop would).
      const cut = spawnSync('ss', ['-K', 'dst', '127.0.0.1', 'dport', '=', '8080']);
      assert.equal(cut.status, 0, String(cut.stderr));
      const before = events.length;
      await until(before + 6, 15000);  // the reconnect comes after Chromium's 3 s retry
      const seq = events.map((e) => Number(/^hello from server ---- \[(\d+)\]$/.exec(e.data)[1]));
      const ids = events.map((e) => Number(e.id));
      for (let i = 1; i < events.length; i++) {
        assert.equal(seq[i], seq[i - 1] + 1, `no repeat, no hole: ${JSON.stringify(events)}`);
        assert.equal(ids[i], ids[i - 1] + 1, `ids follow: ${JSON.stringify(events)}`);
      }
      assert.ok(events.every((e) => e.type === 'message'));
      // Two streams were opened: the reconnect was a new request, resumed from its Last-Event-ID.
      const metrics = await (await fetch('http://127.0.0.1:8080/metrics')).text();
      assert.match(metrics, /^sy_sse_sessions_total 2$/m);
    } finally {
      await browser.close();
      await srv.stop();
    }
  });
}
