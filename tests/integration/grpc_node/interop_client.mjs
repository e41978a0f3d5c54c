// A gRPC interop client on @grpc/grpc-js + @grpc/proto-loader (tests/browser's node_modules),
// written from grpc/grpc doc/interop-test-descriptions.md ("Client"): each case does the
// procedure the description gives and asserts what it asserts.
//   node interop_client.mjs --server_host=127.0.0.1 --server_port=PORT --test_case=a,b|all
//        [--use_tls=true --ca_file=ca.pem --server_host_override=localhost]
// Prints one JSON line per case: {"case": name, "ok": true} or {"case", "ok": false, "error"};
// exits 1 if any case failed. Each case gets its own channel and a 10 s budget.
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../browser/package.json"));
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const protoRoot = path.join(here, "../../../examples/grpc-interop/proto");
const def = protoLoader.loadSync("src/proto/grpc/testing/test.proto", {
  keepCase: true, defaults: true, enums: String, includeDirs: [protoRoot],
});
const testing = grpc.loadPackageDefinition(def).grpc.testing;

const ECHO_INITIAL = "x-grpc-test-echo-initial";
const ECHO_TRAILING = "x-grpc-test-echo-trailing-bin";
const SPECIAL = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1f608}\t\n";
const TIMEOUT_MS = 10000;

const zeros = (n) => ({ body: Buffer.alloc(n) });
const deadline = (ms = TIMEOUT_MS) => ({ deadline: new Date(Date.now() + ms) });

// Unary call as a promise of {err, resp, metadata, status}.
function unary(fn, arg, md = new grpc.Metadata(), opts = deadline()) {
  return new Promise((resolve) => {
    const out = {};
    const call = fn(arg, md, opts, (err, resp) => {
      out.err = err;
      out.resp = resp;
    });
    call.on("metadata", (m) => { out.metadata = m; });
    call.on("status", (s) => { out.status = s; resolve(out); });
  });
}

// Collects a readable call's messages until its status; {msgs, status, metadata, err}.
function drain(call) {
  return new Promise((resolve) => {
    const out = { msgs: [] };
    call.on("data", (m) => out.msgs.push(m));
    call.on("metadata", (m) => { out.metadata = m; });
    call.on("error", (e) => { out.err = e; });
    call.on("status", (s) => { out.status = s; setImmediate(() => resolve(out)); });
  });
}

const cases = {
  async empty_unary(c) {
    const r = await unary(c.emptyCall.bind(c), {});
    assert.ifError(r.err);
    assert.ok(r.resp, "response is non-null");
  },
  async large_unary(c) {
    const r = await unary(c.unaryCall.bind(c), largeRequest());
    assert.ifError(r.err);
    assert.equal(r.resp.payload.type, "COMPRESSABLE");
    assert.ok(r.resp.payload.body.equals(Buffer.alloc(314159)), "314159 zero bytes");
  },
  async client_streaming(c) {
    const resp = await new Promise((resolve, reject) => {
      const call = c.streamingInputCall(deadline(), (err, r) => (err ? reject(err) : resolve(r)));
      for (const n of [27182, 8, 1828, 45904]) call.write({ payload: zeros(n) });
      call.end();
    });
    assert.equal(resp.aggregated_payload_size, 74922);
  },
  async server_streaming(c) {
    const sizes = [31415, 9, 2653, 58979];
    const call = c.streamingOutputCall({
      response_type: "COMPRESSABLE", response_parameters: sizes.map((size) => ({ size })),
    }, deadline());
    const r = await drain(call);
    assert.equal(r.status.code, grpc.status.OK, r.status.details);
    assert.deepEqual(r.msgs.map((m) => m.payload.body.length), sizes);
  },
  async ping_pong(c) {
    const reqs = [27182, 8, 1828, 45904], resps = [31415, 9, 2653, 58979];
    const call = c.fullDuplexCall(deadline());
    const got = [];
    const done = drain(call);
    const next = (i) => call.write({
      response_type: "COMPRESSABLE", response_parameters: [{ size: resps[i] }],
      payload: zeros(reqs[i]),
    });
    call.on("data", (m) => {
      got.push(m.payload.body.length);
      if (got.length === 4) call.end(); else next(got.length);
    });
    next(0);
    const r = await done;
    assert.equal(r.status.code, grpc.status.OK, r.status.details);
    assert.deepEqual(got, resps);
  },
  async empty_stream(c) {
    const call = c.fullDuplexCall(deadline());
    call.end();
    const r = await drain(call);
    assert.equal(r.status.code, grpc.status.OK, r.status.details);
    assert.equal(r.msgs.length, 0);
  },
  async timeout_on_sleeping_server(c) {
    const call = c.fullDuplexCall(deadline(1));
    call.write({ payload: zeros(27182) });
    const r = await drain(call);
    assert.equal(r.status.code, grpc.status.DEADLINE_EXCEEDED, r.status.details);
  },
  async cancel_after_begin(c) {
    const err = await new Promise((resolve) => {
      const call = c.streamingInputCall(deadline(), (e) => resolve(e));
      call.cancel();
    });
    assert.ok(err, "the call failed");
    assert.equal(err.code, grpc.status.CANCELLED);
  },
  async cancel_after_first_response(c) {
    const call = c.fullDuplexCall(deadline());
    const done = drain(call);
    call.once("data", () => call.cancel());
    call.write({
      response_type: "COMPRESSABLE", response_parameters: [{ size: 31415 }],
      payload: zeros(27182),
    });
    const r = await done;
    assert.deepEqual(r.msgs.map((m) => m.payload.body.length), [31415]);
    assert.equal(r.status.code, grpc.status.CANCELLED);
  },
  async status_code_and_message(c) {
    await echoStatus(c, "test status message", true);
  },
  async special_status_message(c) {
    await echoStatus(c, SPECIAL, false);
  },
  async custom_metadata(c) {
    const md = new grpc.Metadata();
    md.set(ECHO_INITIAL, "test_initial_metadata_value");
    md.set(ECHO_TRAILING, Buffer.from("ababab", "hex"));
    const u = await unary(c.unaryCall.bind(c), largeRequest(), md);
    assert.ifError(u.err);
    checkEcho(u.metadata, u.status, "UnaryCall");
    const call = c.fullDuplexCall(md, deadline());
    const done = drain(call);
    call.write({ response_parameters: [{ size: 314159 }], payload: zeros(271828) });
    call.end();
    const r = await done;
    assert.equal(r.status.code, grpc.status.OK, r.status.details);
    assert.deepEqual(r.msgs.map((m) => m.payload.body.length), [314159]);
    checkEcho(r.metadata, r.status, "FullDuplexCall");
  },
  async unimplemented_method(c) {
    const r = await unary(c.unimplementedCall.bind(c), {});
    assert.ok(r.err, "the call failed");
    assert.equal(r.err.code, grpc.status.UNIMPLEMENTED);
  },
  async unimplemented_service(c, cu) {
    const r = await unary(cu.unimplementedCall.bind(cu), {});
    assert.ok(r.err, "the call failed");
    assert.equal(r.err.code, grpc.status.UNIMPLEMENTED);
  },
};

function largeRequest() {
  return { response_type: "COMPRESSABLE", response_size: 314159, payload: zeros(271828) };
}

function checkEcho(metadata, status, what) {
  assert.ok(metadata, `${what}: initial metadata received`);
  assert.deepEqual(metadata.get(ECHO_INITIAL), ["test_initial_metadata_value"], what);
  const t = status.metadata.get(ECHO_TRAILING);
  assert.equal(t.length, 1, `${what}: one trailing value`);
  assert.equal(t[0].toString("hex"), "ababab", what);
}

async function echoStatus(c, message, duplex) {
  const arg = { response_status: { code: 2, message } };
  const u = await unary(c.unaryCall.bind(c), arg);
  assert.ok(u.err, "UnaryCall failed");
  assert.equal(u.err.code, 2);
  assert.equal(u.err.details, message);
  if (!duplex) return;
  const call = c.fullDuplexCall(deadline());
  const done = drain(call);
  call.write(arg);
  call.end();
  const r = await done;
  assert.equal(r.status.code, 2);
  assert.equal(r.status.details, message);
}

function parseArgs(argv) {
  const a = {};
  for (const s of argv) {
    const m = /^--([a-z_]+)=(.*)$/.exec(s);
    if (!m) throw new Error(`bad argument ${s}`);
    a[m[1]] = m[2];
  }
  return a;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const address = `${a.server_host ?? "127.0.0.1"}:${a.server_port}`;
  let creds = grpc.credentials.createInsecure();
  const options = {};
  if (a.use_tls === "true") {
    creds = grpc.credentials.createSsl(a.ca_file ? fs.readFileSync(a.ca_file) : null);
    if (a.server_host_override) {
      options["grpc.ssl_target_name_override"] = a.server_host_override;
      options["grpc.default_authority"] = a.server_host_override;
    }
  }
  const names = !a.test_case || a.test_case === "all" ? Object.keys(cases)
    : a.test_case.split(",");
  let failed = 0;
  for (const name of names) {
    const c = new testing.TestService(address, creds, options);
    const cu = new testing.UnimplementedService(address, creds, options);
    let timer;
    try {
      if (!cases[name]) throw new Error(`unknown test case ${name}`);
      await Promise.race([cases[name](c, cu), new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), TIMEOUT_MS + 2000);
      })]);
      console.log(JSON.stringify({ case: name, ok: true }));
    } catch (e) {
      failed++;
      console.log(JSON.stringify({ case: name, ok: false, error: String(e?.stack ?? e) }));
    } finally {
      clearTimeout(timer);
      c.close();
      cu.close();
    }
  }
  process.exit(failed ? 1 : 0);
}

main();
