// Consumer (a worker): takes jobs from the queue "jobs" one at a time (prefetch 1, so several
// workers share the load fairly), does the work, then acknowledges. A job whose worker dies
// before the ack is redelivered to another worker.
//
//   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 node consumer.mjs [--max N]
// --max N: exit after N jobs (used by the tests); otherwise runs until Ctrl-C.
import amqp from 'amqplib';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const maxArg = process.argv.indexOf('--max');
const max = maxArg > 0 ? Number(process.argv[maxArg + 1]) : Infinity;
const worker = process.env.WORKER ?? String(process.pid);

const conn = await amqp.connect(url);
const ch = await conn.createChannel();
await ch.assertQueue('jobs', { durable: true });
await ch.prefetch(1);

// The "work": sum of the divisors of number (cheap, deterministic, easy to check).
function work(number) {
  let sum = 0;
  for (let d = 1; d <= number; d++) if (number % d === 0) sum += d;
  return sum;
}

let done = 0;
await ch.consume('jobs', (msg) => {
  if (msg === null) return; // the broker cancelled the consumer (queue deleted)
  const { number } = JSON.parse(msg.content.toString());
  const result = work(number);
  console.log(`worker ${worker}: job ${number} -> ${result}`);
  // RPC pattern: a job that names a reply-to queue (switchyard's HTTP jobs API does) gets its
  // result there, tagged with its correlation id, before the ack. RabbitMQ works the same way.
  const { replyTo, correlationId } = msg.properties;
  if (replyTo) {
    ch.sendToQueue(replyTo, Buffer.from(JSON.stringify({ result })), {
      correlationId,
      contentType: 'application/json',
    });
  }
  ch.ack(msg);
  if (++done >= max) {
    // Close after the ack has been written: close() flushes the channel first.
    ch.close().then(() => conn.close()).then(() => process.exit(0));
  }
});
console.log(`worker ${worker}: waiting for jobs`);

process.on('SIGINT', async () => {
  await conn.close().catch(() => {});
  process.exit(0);
});
