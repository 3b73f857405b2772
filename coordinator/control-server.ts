/**
 * The coordinator's gRPC endpoint: one bidirectional Session stream per worker. It only
 * translates between streams and the ClusterController: the first message must be Hello;
 * a stream that ends, errors or is cancelled (a killed worker's socket closes) means the
 * worker left.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../common/logger.ts';
import { controlService, type ControlSessionStream, type WorkerMessage__Output } from '../proto/control.ts';
import type { ClusterController, WorkerLink } from './cluster-controller.ts';

export interface ControlServer {
  port: number;
  /** Ends every session and stops listening. */
  close(): Promise<void>;
}

export async function startControlServer(options: { host: string; port: number; controller: ClusterController; logger: Logger }): Promise<ControlServer> {
  const server = new grpc.Server();
  server.addService(controlService, {
    Session: (call: ControlSessionStream) => handleSession(call, options.controller, options.logger),
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000).unref();
      }),
  };
}

function handleSession(call: ControlSessionStream, controller: ClusterController, logger: Logger): void {
  let worker: string | undefined;
  let open = true;
  const link: WorkerLink = {
    send: (message) => {
      if (open) call.write(message);
    },
    close: (reason) => {
      if (!open) return;
      logger.warn({ worker, reason }, 'closing worker session');
      open = false;
      call.end();
    },
  };
  const gone = (): void => {
    open = false;
    if (worker !== undefined) controller.disconnected(worker, link);
  };
  call.on('data', (message: WorkerMessage__Output) => {
    if (worker !== undefined) {
      controller.message(worker, message);
    } else if (message.body === 'hello' && message.hello) {
      if (controller.hello(message.hello, link)) worker = message.hello.workerId;
      else link.close('hello refused');
    } else {
      link.send({ reject: { reason: 'the first message of a session must be Hello' } });
      link.close('no hello');
    }
  });
  call.on('end', () => {
    gone();
    call.end();
  });
  call.on('error', (err) => {
    logger.debug({ worker, err: err.message }, 'session error');
    gone();
  });
  call.on('cancelled', gone);
}
