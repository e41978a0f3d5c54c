// Types of @switchyard/client (src/index.js).

export type TransportName = 'websocket' | 'sse' | 'longpoll';
export type SubscriptionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientOptions {
  /** Order to try (default: websocket, sse, longpoll). */
  transports?: TransportName[];
  /** First reconnect delay in ms (jittered: half fixed, half random; doubles per attempt). */
  minDelay?: number;
  /** Cap of the reconnect delay in ms. */
  maxDelay?: number;
  /** A transport that has not opened after this many ms has failed (next one is tried). */
  openTimeout?: number;
  /** The long poll's ?timeout= in seconds. */
  pollTimeout?: number;
  /** Called before every connect and publish; the token goes as Authorization: Bearer (fetch)
   * or as the tokenParam query parameter (WebSocket). */
  token?: (() => string | null | Promise<string | null>) | null;
  tokenParam?: string;
  /** A WebSocket constructor (browsers: the global one; Node 20: e.g. the `ws` package's). */
  WebSocket?: unknown;
  /** A fetch implementation (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface SubscribeOptions {
  /** Resume after this id (0: everything the server's history still holds). */
  since?: number;
  /** Announce this name on the topic: join on connect, leave on close (WebSocket only). */
  presence?: string;
  transports?: TransportName[];
}

export interface Message {
  id: number;
  topic: string;
  /** Milliseconds since the epoch, when the server assigned the id (absent for long poll). */
  time?: number;
  contentType: string;
  /** JSON payloads as their value, text as a string, binary as base64 (encoding: 'base64'). */
  data: unknown;
  encoding?: 'base64';
}

export interface Gap {
  topic: string;
  /** First and last id that will not be delivered. */
  from: number;
  to: number;
  /** How many; null when unknown (reset). */
  lost: number | null;
  /** The ids restarted below `previous` (the server lost its history, e.g. a restart). */
  reset?: boolean;
  previous?: number;
}

export interface Presence {
  type: 'join' | 'leave';
  name: string;
  id: number;
}

export interface StateChange {
  state: SubscriptionState;
  transport: TransportName | null;
  lastId: number | undefined;
}

export interface PublishResult {
  id: number;
  subscribers: number;
}

export declare function backoff(attempt: number, minDelay?: number, maxDelay?: number): number;

export declare class Subscription {
  readonly client: Client;
  readonly topic: string;
  /** The last id delivered or covered by a gap (undefined on a pattern: ids are per topic). */
  readonly lastId: number | undefined;
  /** The topic is a pattern (news.*, sys.>): live only, ids checked per topic. */
  readonly pattern: boolean;
  readonly state: SubscriptionState;
  /** The transport in use (or being tried). */
  readonly transport: TransportName | null;
  on(event: 'message', fn: (m: Message) => void): this;
  on(event: 'gap', fn: (g: Gap) => void): this;
  on(event: 'presence', fn: (p: Presence) => void): this;
  on(event: 'state', fn: (s: StateChange) => void): this;
  on(event: 'error', fn: (e: Error) => void): this;
  off(event: string, fn: (...args: any[]) => void): this;
  publish(data: unknown, options?: { contentType?: string }): Promise<PublishResult>;
  close(): void;
}

export declare class Client {
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  readonly options: Required<ClientOptions>;
  subscribe(topic: string, options?: SubscribeOptions): Subscription;
  publish(topic: string, data: unknown, options?: { contentType?: string }): Promise<PublishResult>;
}
