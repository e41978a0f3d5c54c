// Shared browser-test helpers: start build/bin/switchyard on port 0 and read the port from its
// first line; launch Debian's chromium headless through playwright-core.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');

// need: the schemes to wait for ("http", "amqp", ...); ports holds each one's port. binary: a
// program of build/bin that takes the server flags (the course examples).
export function startServer(args = [], need = ['http'], binary = 'switchyard') {
  const bin = path.join(process.env.SY_BIN_DIR || path.join(root, 'build', 'bin'), binary);
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--workers', '2', ...args], {
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
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extraArgs],
  });
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
