// Shared browser-test helpers: start build/bin/switchyard on port 0 and read the port from its
// first line; launch Debian's chromium headless through playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');

// need: the schemes to wait for ("http", "amqp", ...); ports holds each one's port.
// opts.binary: another program of build/bin (a course demo); opts.listen: its address.
export function startServer(args = [], need = ['http'], opts = {}) {
  const bin = path.join(process.env.SY_BIN_DIR || path.join(root, 'build', 'bin'),
    opts.binary || 'switchyard');
  const listen = opts.listen || '127.0.0.1:0';
  const child = spawn(bin, ['--listen', listen, '--workers', '2', ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const ports = {};
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      for (const m of out.matchAll(/listening on (\w+):\/\/([\d.]+):(\d+)/g)) {
        ports[m[1]] ??= Number(m[3]);
      }
      if (!need.every((s) => s in ports)) return;
      clearTimeout(timer);
      const url = `http://127.0.0.1:${ports.http}`;
      resolve({
        url, port: ports.http, ports, child,
        stop: () => new Promise((res) => { child.once('exit', res); child.kill('SIGTERM'); }),
      });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
}

// extraArgs: more Chromium switches (--host-resolver-rules to send a client's fixed
// localhost:8080 to the test's port).
// opts.quic: leave QUIC on (HTTP/3 tests force it on an origin); off otherwise, so a test never
// depends on what Chromium learned from Alt-Svc.
export async function launch(extraArgs = [], opts = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', ...(opts.quic ? [] : ['--disable-quic']), '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extraArgs],
  });
}

// The course's browser snippets name a fixed URL (http://localhost:8080). A test that runs one
// unchanged calls this first: in the outer process it runs the test file again inside a private
// network namespace (unshare -rn: its own loopback, where port 8080 is free whatever the host
// runs) and returns that run's result ({status, output}); inside, it returns null and the
// file's tests run. skip: the reason when no namespace can be made.
export function inPrivateNetwork(file) {
  if (process.env.SY_PRIVATE_NET === '1') return null;
  const probe = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return { skip: `no private network namespace: ${probe.error || probe.stderr}` };
  }
  // Run as a plain script (its test() calls run, the exit status says whether they passed);
  // without the runner's NODE_TEST_CONTEXT, which would make it report to a parent runner.
  const env = { ...process.env, SY_PRIVATE_NET: '1' };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" "$1"',
    process.execPath, file], { encoding: 'utf8', timeout: 240000, env });
  return { status: r.status, output: `${r.stdout}${r.stderr}${r.error || ''}` };
}

// The course's code (hnasr/backend-course-code at a fixed commit) beside the project:
// ../shared/course, or SY_COURSE_DIR. Tests read its clients from there, never a copy.
export function courseDir() {
  if (process.env.SY_COURSE_DIR) return process.env.SY_COURSE_DIR;
  for (const up of [['..'], ['..', '..']]) {
    const d = path.resolve(root, ...up, 'shared', 'course');
    if (fs.existsSync(d)) return d;
  }
  throw new Error('the course code is not beside the project (set SY_COURSE_DIR)');
}
