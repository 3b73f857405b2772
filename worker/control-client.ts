/**
 * The worker's side of the control protocol: one Session stream to the coordinator, Hello
 * first, heartbeats every `heartbeatIntervalMs` (the coordinator's Welcome sets it), and
 * reconnection with back-off when the stream ends. Tasks keep running while the coordinator
 * is away; the next Hello lists them so a new coordinator adopts them.
 */
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
  hello(): Hello;
  heartbeat(): Heartbeat;
  onMessage(message: CoordinatorMessage__Output): void;
  /** The coordinator refused this worker for good (e.g. another job). */
  onRejected(reason: string): void;
  logger: Logger;
}

const backoffMinMs = 200;
const backoffMaxMs = 2_000;

export class WorkerControlClient {
  private readonly client: ControlClient;
  private stream: ControlClientStream | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs = backoffMinMs;
  private closed = false;
  private connectedValue = false;

  constructor(private readonly options: ControlClientOptions) {
    this.client = createControlClient(options.address);
  }

  get connected(): boolean {
    return this.connectedValue;
  }

  start(): void {
    this.connect();
  }

  /** Sends if a session is open; otherwise the message is dropped (the next Hello carries the truth). */
  send(message: WorkerMessage): void {
    if (this.connectedValue) this.stream?.write(message);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
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
      this.options.logger.warn({ why, retryInMs: this.backoffMs }, 'coordinator session lost; reconnecting');
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, backoffMaxMs);
    };
    stream.on('data', (message: CoordinatorMessage__Output) => this.receive(message));
    stream.on('end', () => lost('stream ended'));
    stream.on('error', (err: Error) => lost(err.message));
    stream.write({ hello: this.options.hello() });
    this.connectedValue = true;
  }

  private receive(message: CoordinatorMessage__Output): void {
    if (message.body === 'welcome' && message.welcome) {
      this.backoffMs = backoffMinMs;
      clearInterval(this.heartbeatTimer);
      const interval = message.welcome.heartbeatIntervalMs || 500;
      this.heartbeatTimer = setInterval(() => this.send({ heartbeat: this.options.heartbeat() }), interval);
      this.options.logger.info({ generation: message.welcome.generation, tasks: message.welcome.taskCount }, 'joined the cluster');
    } else if (message.body === 'reject' && message.reject) {
      this.options.onRejected(message.reject.reason);
      return;
    }
    this.options.onMessage(message);
  }
}
