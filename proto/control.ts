/**
 * Loads proto/control.proto at run time (the generated types in proto/generated/ describe what
 * it yields) and gives both sides what they need: the service definition for the coordinator's
 * server and the client constructor for workers. Field names are camelCase, 64-bit integers are
 * JS numbers (generations and counters stay far below 2^53), and `body` names the oneof case.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/control.ts';
import type { CoordinatorMessage, CoordinatorMessage__Output } from './generated/eddy/control/v1/CoordinatorMessage.ts';
import type { WorkerMessage, WorkerMessage__Output } from './generated/eddy/control/v1/WorkerMessage.ts';
import type { ControlClient } from './generated/eddy/control/v1/Control.ts';

export type { CoordinatorMessage, CoordinatorMessage__Output, WorkerMessage, WorkerMessage__Output, ControlClient };
export type { Hello__Output } from './generated/eddy/control/v1/Hello.ts';
export type { TaskStats, TaskStats__Output } from './generated/eddy/control/v1/TaskStats.ts';
export type { CheckpointAck__Output } from './generated/eddy/control/v1/CheckpointAck.ts';
export type { CheckpointDeclined__Output } from './generated/eddy/control/v1/CheckpointDeclined.ts';

const protoFile = fileURLToPath(new URL('./control.proto', import.meta.url));

const definition = protoLoader.loadSync(protoFile, {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

const loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;

/** Service definition to register on the coordinator's gRPC server. */
export const controlService = loaded.eddy.control.v1.Control.service;

/**
 * Opens a client of the coordinator's Control service: over mutual TLS with `tls` (the cluster's
 * CA, and this worker's certificate and key), else in plain text (loopback or a trusted network).
 */
export function createControlClient(address: string, tls?: { ca: Buffer; cert: Buffer; key: Buffer }): ControlClient {
  const credentials = tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
  return new loaded.eddy.control.v1.Control(address, credentials);
}

/** The server-side stream of one worker session. */
export type ControlSessionStream = grpc.ServerDuplexStream<WorkerMessage__Output, CoordinatorMessage>;
/** The client-side stream of one worker session. */
export type ControlClientStream = grpc.ClientDuplexStream<WorkerMessage, CoordinatorMessage__Output>;
