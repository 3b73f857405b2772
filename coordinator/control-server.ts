/**
 * The coordinator's gRPC endpoint: one bidirectional Session stream per worker. It only
 * translates between streams and the ClusterController: the first message must be Hello;
 * a stream that ends, errors or is cancelled (a killed worker's socket closes) means the
 * worker left.
 */
import * as grpc from '@grpc/grpc-js';
import type { TlsFiles } from '../common/cluster-tls.ts';
import type { Logger } from '../common/logger.ts';
import { controlService, type ControlSessionStream, type WorkerMessage__Output } from '../proto/control.ts';
import type { ClusterController, WorkerLink } from './cluster-controller.ts';

export interface ControlServer {
  port: number;
  /** Ends every session and stops listening. */
  close(): Promise<void>;
}

export async function startControlServer(options: {
  host: string;
  port: number;
  controller: ClusterController;
  logger: Logger;
  /** Mutual TLS: only workers with a certificate of this CA, each under the id its certificate names. */
  tls?: TlsFiles | undefined;
}): Promise<ControlServer> {
  const server = new grpc.Server();
  server.addService(controlService, {
    Session: (call: ControlSessionStream) => handleSession(call, options.controller, options.logger, options.tls !== undefined),
  });
  const credentials = options.tls === undefined
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(options.tls.ca, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], true);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
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

function handleSession(call: ControlSessionStream, controller: ClusterController, logger: Logger, certified: boolean): void {
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
      // Over mutual TLS a worker is who its certificate says, or nobody: no joining under another's id.
      const cn = certified ? call.getAuthContext()?.sslPeerCertificate?.subject?.CN : undefined;
      const certifiedAs = Array.isArray(cn) ? cn.join(',') : cn;
      if (certified && certifiedAs !== message.hello.workerId) {
        logger.warn({ claimed: message.hello.workerId, certificate: certifiedAs ?? null, peer: call.getPeer() }, 'refused a worker whose certificate names another id');
        link.send({ reject: { reason: `this worker says it is '${message.hello.workerId}', but its certificate is for '${certifiedAs ?? 'nobody'}'` } });
        link.close('certificate names another worker');
      } else if (controller.hello(message.hello, link)) worker = message.hello.workerId;
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
