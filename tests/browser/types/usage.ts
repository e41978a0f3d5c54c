// What a TypeScript user of @switchyard/client writes (README.md, docs/client.md): it must
// type-check against clients/js/src/index.d.ts with strict settings (client_types.test.mjs).
import {
  Client, Subscription, backoff,
  type ClientOptions, type Gap, type Message, type Presence, type PublishResult, type StateChange,
  type SubscriptionState, type TransportName,
} from '../../../clients/js/src/index.js';

const options: ClientOptions = {
  transports: ['websocket', 'sse', 'longpoll'],
  minDelay: 100,
  maxDelay: 2000,
  openTimeout: 3000,
  pollTimeout: 10,
  token: async () => 'a-token',
  tokenParam: 'token',
  WebSocket: globalThis.WebSocket,
  fetch: globalThis.fetch,
};
const client = new Client('http://127.0.0.1:8080', options);
const url: string = client.url;
const order: TransportName[] = client.options.transports;

const sub: Subscription = client.subscribe('chat.lobby', { since: 0, presence: 'ann', transports: ['sse'] });
sub
  .on('message', (m: Message) => {
    const id: number = m.id;
    const topic: string = m.topic;
    const ct: string = m.contentType;
    const when: number | undefined = m.time;
    const enc: 'base64' | undefined = m.encoding;
    console.log(id, topic, ct, when, enc, m.data);
  })
  .on('gap', (g: Gap) => {
    const lost: number | null = g.lost;
    if (g.reset) console.log('restarted after', g.previous);
    console.log(g.topic, g.from, g.to, lost);
  })
  .on('presence', (p: Presence) => console.log(p.type === 'join' ? 'joined' : 'left', p.name, p.id))
  .on('state', (s: StateChange) => {
    const st: SubscriptionState = s.state;
    const t: TransportName | null = s.transport;
    console.log(st, t, s.lastId);
  })
  .on('error', (e: Error) => console.warn(e.message));

const last: number | undefined = sub.lastId;
const state: SubscriptionState = sub.state;
const live: Subscription = client.subscribe('news.*');

async function main(): Promise<void> {
  const r: PublishResult = await sub.publish({ text: 'hello' });
  const r2: PublishResult = await client.publish('news.a', 'text', { contentType: 'text/plain' });
  const r3 = await client.publish('bin.a', new Uint8Array([1, 2, 3]));
  console.log(r.id + r.subscribers, r2.id, r3.subscribers, url, order, last, state);
  const wait: number = backoff(3, 250, 5000);
  console.log(wait);
  live.close();
  sub.close();
}
void main();
