/**
 * A loopback TCP proxy that the nemesis can cut, to partition one worker from the coordinator
 * or from Kafka without touching anyone else. While cut it behaves like a network that drops
 * every packet: existing connections stay open but nothing passes in either direction (the
 * bytes are held back, not lost, as TCP would retransmit them), and new connections are
 * accepted but never answered, as a SYN into a blackhole eventually is from the client's side.
 * Healing lets everything through again, held bytes first.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

type Pair = { client: Socket; upstream: Socket; held: { to: Socket; chunk: Buffer }[]; closed: boolean };

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private cutValue = false;
  /** Connections accepted while cut: connected upstream only when the cut heals. */
  private readonly waiting: Socket[] = [];

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on 127.0.0.1:`port` (0 = any free port) and forwards to `target`. */
  static async start(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('proxy not listening');
    return address.port;
  }

  get cut(): boolean {
    return this.cutValue;
  }

  /** Holds back every byte in both directions until {@link heal}. */
  blackhole(): void {
    this.cutValue = true;
  }

  heal(): void {
    this.cutValue = false;
    for (const pair of [...this.pairs]) {
      for (const { to, chunk } of pair.held.splice(0)) if (!to.destroyed) to.write(chunk);
      if (pair.closed) this.end(pair);
    }
    for (const client of this.waiting.splice(0)) if (!client.destroyed) this.forward(client);
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    for (const client of this.waiting.splice(0)) client.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => client.destroy());
    if (this.cutValue) {
      client.pause();
      this.waiting.push(client);
      return;
    }
    this.forward(client);
  }

  private forward(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    const pair: Pair = { client, upstream, held: [], closed: false };
    this.pairs.add(pair);
    // A side that closes while cut is not seen closing by the other side until the cut heals.
    const end = (): void => {
      pair.closed = true;
      if (!this.cutValue) this.end(pair);
    };
    const relay = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (this.cutValue || pair.held.length > 0) pair.held.push({ to, chunk });
        else to.write(chunk);
      });
    };
    relay(client, upstream);
    relay(upstream, client);
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
    client.resume();
  }

  private end(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.end();
    pair.upstream.end();
  }
}
