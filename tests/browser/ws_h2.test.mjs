// WebSocket over HTTP/2 from a real browser: against an https origin whose h2 SETTINGS carry
// ENABLE_CONNECT_PROTOCOL, Chromium opens `wss://` with an RFC 8441 extended CONNECT on the page's
// existing h2 connection. Checked from the server side: one TLS handshake (ALPN h2) for the page
// and the socket together, and the access log shows the /echo and /sub streams as h2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, launch } from './harness.mjs';

function startTls() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-wsh2-'));
  const cert = path.join(dir, 'c.pem');
  const key = path.join(dir, 'k.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'],
  { stdio: 'ignore' });
  const bin = path.join(process.env.SY_BIN_DIR || path.join(root, 'build', 'bin'), 'switchyard');
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--tls-listen', '127.0.0.1:0',
    '--tls-cert', cert, '--tls-key', key, '--workers', '1', '--access-log'],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const h = out.match(/listening on http:\/\/[\d.]+:(\d+)/);
      const s = out.match(/listening on https:\/\/[\d.]+:(\d+)/);
      if (h && s) {
        clearTimeout(timer);
        resolve({
          http: `http://127.0.0.1:${h[1]}`, https: `https://127.0.0.1:${s[1]}`, log: () => log,
          stop: () => new Promise((res) => {
            child.once('exit', () => { rmSync(dir, { recursive: true, force: true }); res(); });
            child.kill('SIGTERM');
          }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
}

async function tlsHandshakes(srv) {
  const text = await (await fetch(`${srv.http}/metrics`)).text();
  const out = {};
  for (const m of text.matchAll(/^sy_tls_handshakes_total\{version="([^"]+)",alpn="([^"]+)"\} (\d+)$/gm)) {
    if (m[3] !== '0') out[`${m[1]} ${m[2]}`] = Number(m[3]);
  }
  return out;
}

test('chromium speaks WebSocket over h2 (extended CONNECT) to /echo and /sub', async () => {
  const srv = await startTls();
  const browser = await launch();
  try {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    await page.goto(`${srv.https}/metrics`);  // the h2 connection the sockets will share
    const wss = srv.https.replace('https', 'wss');
    const echoed = await page.evaluate((url) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}/echo`);
      ws.onopen = () => ws.send('hello over h2');
      ws.onmessage = (e) => { resolve(e.data); ws.close(1000); };
      ws.onerror = () => reject(new Error('ws error'));
    }), wss);
    assert.equal(echoed, 'hello over h2');
    // A subscriber in the browser, a publish from outside over HTTP/1.1.
    await page.evaluate((url) => new Promise((resolve, reject) => {
      window.sub = new WebSocket(`${url}/sub/browser.h2`);
      window.got = new Promise((r) => { window.sub.onmessage = (e) => r(e.data); });
      window.sub.onopen = () => resolve();
      window.sub.onerror = () => reject(new Error('ws error'));
    }), wss);
    await new Promise((r) => setTimeout(r, 100));
    const pub = await fetch(`${srv.http}/pub/browser.h2`, { method: 'POST', body: 'from h1' });
    assert.ok(pub.ok, `publish answered ${pub.status}`);
    assert.equal(await page.evaluate(() => window.got), 'from h1');
    const code = await page.evaluate(() => new Promise((resolve) => {
      window.sub.onclose = (e) => resolve(e.code);
      window.sub.close(1000);
    }));
    assert.equal(code, 1000);
    // One TLS connection (h2) carried the page and both sockets; no HTTP/1.1 fallback.
    assert.deepEqual(await tlsHandshakes(srv), { 'TLSv1.3 h2': 1 });
    assert.match(srv.log(), /GET \/echo 200 h2/);
    assert.match(srv.log(), /GET \/sub\/browser\.h2 200 h2/);
  } finally {
    await browser.close();
    await srv.stop();
  }
});
