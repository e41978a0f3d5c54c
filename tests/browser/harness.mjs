// Shared browser-test helpers: start build/bin/switchyard on port 0 and read the port from its
// first line; launch Debian's chromium headless through playwright-core.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');

export function startServer(args = []) {
  const bin = path.join(process.env.SY_BIN_DIR || path.join(root, 'build', 'bin'), 'switchyard');
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--workers', '2', ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/([\d.]+):(\d+)/);
      if (m) {
        clearTimeout(timer);
        const url = `http://127.0.0.1:${m[2]}`;
        resolve({
          url, port: Number(m[2]), child,
          stop: () => new Promise((res) => { child.once('exit', res); child.kill('SIGTERM'); }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
