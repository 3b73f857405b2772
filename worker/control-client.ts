/**
 * The worker's side of the control protocol: one Session stream to the coordinator, Hello
 * first, heartbeats every `heartbeatIntervalMs` (the coordinator's Welcome sets it), and
 * reconnection with back-off when the stream ends.
 *
 * The lease: the worker may run its tasks only while the coordinator is known to consider it
 * alive. Each acknowledged heartbeat (and the Welcome answering Hello) extends the lease to the
 * time that heartbeat was SENT plus `leaseMs`; the coordinator declares the worker dead only
 * `leaseMs` after it RECEIVED its last message, which is later. So when the lease runs out
 * (a long GC pause, a frozen VM, a network cut from the coordinator, a coordinator that is
 * away) the worker stops its tasks before anybody else can be given them. Time is the
 * monotonic clock: a wall-clock jump neither extends nor ends a lease.
 */
import type { TlsFiles } from '../common/cluster-tls.ts';
import type { Logger } from '../common/logger.ts';
import {
  createControlClient,
  type ControlClient,
  type ControlClientStream,
  type CoordinatorMessage__Output,
  type WorkerMessage,
} from '../proto/control.ts';
import type { Hello } from '../proto/generated/eddy/control/v1/Hello.ts';
import type { Heartbeat } from '../proto/generated/eddy/control/v1/Heartbeat.ts';

export interface ControlClientOptions {
  address: string;
  /** Mutual TLS to the coordinator (common/cluster-tls.ts); absent: plain text. */
  tls?: TlsFiles | undefined;
  hello(): Hello;
  heartbeat(): Heartbeat;
  onMessage(message: CoordinatorMessage__Output): void;
  /** The coordinator refused this worker for good (e.g. another job). */
  onRejected(reason: string): void;
  /** The lease ran out: stop every task now (nobody may assume this worker still runs them). */
  onLeaseExpired(silentMs: number): void;
  logger: Logger;
  /** Monotonic milliseconds (tests inject their own). */
  clock?: () => number;
}

const backoffMinMs = 200;
const backoffMaxMs = 2_000;

export class WorkerControlClient {
  private readonly client: ControlClient;
  private stream: ControlClientStream | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs = backoffMinMs;
  /** Welcomed by a coordinator at least once: a lost session is news, not start-up. */
  private welcomed = false;
  private closed = false;
  private connectedValue = false;
  private readonly lease: Lease;
  private leaseTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ControlClientOptions) {
    this.client = createControlClient(options.address, options.tls);
    this.lease = new Lease(options.clock ?? (() => performance.now()));
  }

  /** True while the lease holds: the coordinator still counts this worker as alive. */
  get leaseValid(): boolean {
    return this.lease.valid();
  }

  get connected(): boolean {
    return this.connectedValue;
  }

  start(): void {
    this.connect();
    this.leaseTimer = setInterval(() => this.checkLease(), leaseCheckMs);
  }

  /** Sends if a session is open; otherwise the message is dropped (the next Hello carries the truth). */
  send(message: WorkerMessage): void {
    if (this.connectedValue) this.stream?.write(message);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.leaseTimer);
    clearTimeout(this.reconnectTimer);
    this.stream?.end();
    this.stream?.cancel();
    this.client.close();
  }

  private connect(): void {
    if (this.closed) return;
    const stream = this.client.Session();
    this.stream = stream;
    let ended = false;
    const lost = (why: string): void => {
      if (ended) return;
      ended = true;
      this.connectedValue = false;
      clearInterval(this.heartbeatTimer);
      if (this.closed) return;
      if (this.welcomed) this.options.logger.warn({ why, retryInMs: this.backoffMs }, 'coordinator session lost; reconnecting');
      else this.options.logger.info({ why, retryInMs: this.backoffMs }, 'waiting for the coordinator');
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, backoffMaxMs);
    };
    stream.on('data', (message: CoordinatorMessage__Output) => {
      if (!ended) this.receive(message);
    });
    stream.on('end', () => lost('stream ended'));
    stream.on('error', (err: Error) => lost(err.message));
    this.lease.newSession();
    // Checked before Hello: a worker waking from a pause must stop its tasks before it claims them.
    this.checkLease(false);
    const hello = this.options.hello();
    this.lease.sent(0);
    stream.write({ hello });
    this.connectedValue = true;
  }

  /**
   * Stops the tasks once the lease has run out. A session that is still open then is abandoned
   * for a new one: its connection may be half-open (a network cut), and only a new Hello can
   * win a new lease.
   */
  private checkLease(renewSession = true): void {
    const silentMs = this.lease.expiredFor();
    if (silentMs === undefined) return;
    this.options.onLeaseExpired(silentMs);
    if (renewSession && this.connectedValue) this.stream?.cancel();
  }

  private sendHeartbeat(): void {
    this.checkLease();
    if (!this.connectedValue) return;
    const seq = this.lease.nextSeq();
    const heartbeat = this.options.heartbeat();
    this.lease.sent(seq);
    this.send({ heartbeat: { ...heartbeat, seq } });
  }

  private receive(message: CoordinatorMessage__Output): void {
    // A worker that wakes from a pause may find commands queued from before it; if its lease
    // ran out meanwhile it stops its tasks first and answers nothing on this session.
    if (message.body !== 'welcome' && message.body !== 'reject' && !this.lease.valid()) {
      this.checkLease(false); // reports the expiry once; the session is abandoned either way
      if (this.connectedValue) this.stream?.cancel();
      return;
    }
    if (message.body === 'welcome' && message.welcome) {
      this.welcomed = true;
      this.backoffMs = backoffMinMs;
      clearInterval(this.heartbeatTimer);
      const interval = message.welcome.heartbeatIntervalMs || 500;
      this.lease.acked(0, message.welcome.leaseMs || 3 * interval);
      this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), interval);
      this.options.logger.info({ generation: message.welcome.generation, tasks: message.welcome.taskCount }, 'joined the cluster');
    } else if (message.body === 'reject' && message.reject) {
      this.options.onRejected(message.reject.reason);
      return;
    } else if (message.body === 'heartbeatAck' && message.heartbeatAck) {
      this.lease.acked(message.heartbeatAck.seq);
      return;
    }
    this.options.onMessage(message);
  }
}

/** How often the worker looks at its lease between heartbeats. */
const leaseCheckMs = 100;

/**
 * When the worker's lease ends: the send time of the newest acknowledged heartbeat of the
 * current session plus the lease length from Welcome. Before the first Welcome there is no
 * lease, and a worker without a lease runs no task (it has none until it is assigned some).
 */
export class Lease {
  private readonly sentAt = new Map<number, number>();
  private seq = 0;
  private leaseMs = 0;
  private untilMs: number | undefined;
  private expiredReported = false;

  constructor(private readonly clock: () => number) {}

  /** A new session: heartbeats of the old one can no longer extend the lease. */
  newSession(): void {
    this.sentAt.clear();
  }

  nextSeq(): number {
    return ++this.seq;
  }

  sent(seq: number): void {
    this.sentAt.set(seq, this.clock());
    // Heartbeats nobody answers (a coordinator that hangs) must not pile up.
    if (this.sentAt.size > 64) this.sentAt.delete(this.sentAt.keys().next().value as number);
  }

  /** The coordinator heard heartbeat `seq` (0 = Hello, answered by Welcome with the lease length). */
  acked(seq: number, leaseMs?: number): void {
    if (leaseMs !== undefined) this.leaseMs = leaseMs;
    const sentAt = this.sentAt.get(seq);
    if (sentAt === undefined) return; // from an earlier session
    for (const s of this.sentAt.keys()) if (s <= seq) this.sentAt.delete(s);
    this.untilMs = Math.max(this.untilMs ?? 0, sentAt + this.leaseMs);
    this.expiredReported = false;
  }

  valid(): boolean {
    return this.untilMs !== undefined && this.clock() < this.untilMs;
  }

  /** How long ago the lease ended, once per expiry; undefined while it holds (or was reported). */
  expiredFor(): number | undefined {
    if (this.untilMs === undefined || this.valid() || this.expiredReported) return undefined;
    this.expiredReported = true;
    return this.clock() - this.untilMs + this.leaseMs;
  }
}
