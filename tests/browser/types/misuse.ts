// Wrong uses of @switchyard/client that the .d.ts must reject (client_types.test.mjs expects
// exactly one error per marked line, so a .d.ts that loosens a type fails the suite).
import { Client } from '../../../clients/js/src/index.js';

const client = new Client('http://127.0.0.1:8080', { transports: ['carrier-pigeon'] }); // @error TS2322
const sub = client.subscribe('a', { since: 'yesterday' }); // @error TS2322
sub.on('message', (m) => { const id: string = m.id; console.log(id); }); // @error TS2322
sub.on('gap', (g) => console.log(g.missing)); // @error TS2339
sub.on('sparkle', () => {}); // @error TS2769
const n: number = sub.transport; // @error TS2322
client.publish(42); // @error TS2554
console.log(n);
