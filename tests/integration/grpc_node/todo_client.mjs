// A stock @grpc/grpc-js Todo client (the course demo's client, unchanged in substance):
// createTodo, readTodos, readTodosStream against ADDRESS over an insecure (h2c) channel.
//   node todo_client.mjs 127.0.0.1:PORT /path/to/todo.proto
// Prints one JSON line with what it saw; exits non-zero on any error.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../browser/package.json"));
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [address, protoPath] = process.argv.slice(2);
const packageDef = protoLoader.loadSync(protoPath, {});
const grpcObject = grpc.loadPackageDefinition(packageDef);
const todoPackage = grpcObject.todoPackage;

const client = new todoPackage.Todo(address, grpc.credentials.createInsecure());
const deadline = () => new Date(Date.now() + 5000);

function createTodo(text) {
  return new Promise((resolve, reject) => {
    client.createTodo({ id: -1, text }, { deadline: deadline() }, (err, response) =>
      err ? reject(err) : resolve(response));
  });
}

function readTodos() {
  return new Promise((resolve, reject) => {
    client.readTodos({}, { deadline: deadline() }, (err, response) =>
      err ? reject(err) : resolve(response));
  });
}

function readTodosStream() {
  return new Promise((resolve, reject) => {
    const items = [];
    const call = client.readTodosStream();
    call.on("data", (item) => items.push(item));
    call.on("end", () => resolve(items));
    call.on("error", reject);
  });
}

function unknownMethod() {
  return new Promise((resolve) => {
    const m = client.makeUnaryRequest("/todoPackage.Todo/deleteTodo", (x) => x, (x) => x,
      Buffer.alloc(0), (err) => resolve(err ? err.code : 0));
    return m;
  });
}

try {
  const created = [];
  for (const text of ["buy milk", "walk the dog", "ship switchyard"]) created.push(await createTodo(text));
  const all = await readTodos();
  const streamed = await readTodosStream();
  const unimplemented = await unknownMethod();
  console.log(JSON.stringify({ created, all: all.items, streamed, unimplemented }));
  client.close();
} catch (err) {
  console.error("grpc-js error:", err.code, err.details || err.message);
  process.exit(1);
}
