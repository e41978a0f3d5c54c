// @switchyard/client's TypeScript types (clients/js/src/index.d.ts) checked with tsc (the
// typescript devDependency): a strict program using the whole API compiles with --noEmit
// (types/usage.ts), each wrong use in types/misuse.ts is rejected with the expected error on
// its line, and every value and member the .d.ts declares exists at run time in index.js, so a
// .d.ts that drifts from the code fails the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as client from '../../clients/js/src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsc = path.join(here, 'node_modules', '.bin', 'tsc');
const dts = path.join(here, '..', '..', 'clients', 'js', 'src', 'index.d.ts');

function runTsc(project) {
  return spawnSync(tsc, ['-p', path.join(here, 'types', project), '--pretty', 'false'],
    { encoding: 'utf8', timeout: 120000 });
}

test('tsc --noEmit accepts a strict program using the whole API', () => {
  const r = runTsc('tsconfig.json');
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}${r.error ?? ''}`);
});

test('tsc rejects each wrong use with the expected error', () => {
  const r = runTsc('tsconfig.misuse.json');
  assert.notEqual(r.status, 0, 'misuse.ts compiled');
  const got = [...r.stdout.matchAll(/misuse\.ts\((\d+),\d+\): error (TS\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
  const lines = fs.readFileSync(path.join(here, 'types', 'misuse.ts'), 'utf8').split('\n');
  const want = lines.flatMap((l, i) => {
    const m = l.match(/@error (TS\d+)/);
    return m ? [`${i + 1} ${m[1]}`] : [];
  });
  assert.ok(want.length >= 5);
  assert.deepEqual(got, want, r.stdout);
});

test('what the .d.ts declares exists in index.js', () => {
  const program = ts.createProgram([dts], { strict: true, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const mod = checker.getSymbolAtLocation(program.getSourceFile(dts));
  const values = checker.getExportsOfModule(mod).filter((s) => s.flags & ts.SymbolFlags.Value);
  assert.deepEqual(values.map((s) => s.name).sort(), Object.keys(client).sort());
  for (const s of values.filter((v) => v.flags & ts.SymbolFlags.Class)) {
    const decl = s.valueDeclaration;
    const type = checker.getDeclaredTypeOfSymbol(s);
    const proto = client[s.name].prototype;
    for (const m of checker.getPropertiesOfType(type)) {
      if (m.flags & ts.SymbolFlags.Method) {
        assert.equal(typeof proto[m.name], 'function', `${s.name}.${m.name} is not a method`);
      }
    }
    assert.ok(decl, s.name);
  }
  // Readonly fields are set by the constructors: check them on real instances (no I/O: a
  // subscription connects in a microtask, closed before it runs).
  const c = new client.Client('http://127.0.0.1:9');
  const sub = c.subscribe('t.a', { since: 3 });
  sub.close();
  for (const [name, obj] of [['Client', c], ['Subscription', sub]]) {
    const type = checker.getDeclaredTypeOfSymbol(values.find((v) => v.name === name));
    for (const m of checker.getPropertiesOfType(type)) {
      if (m.flags & ts.SymbolFlags.Property) assert.ok(m.name in obj, `${name}.${m.name} is missing`);
    }
  }
  assert.equal(sub.lastId, 3);
});
