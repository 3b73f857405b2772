/**
 * The Job API: everything a job author imports. A job is a module whose default export is
 * `defineJob({...})`: named Kafka sources (with a format that decodes their records), named
 * sinks, and keyed actors that turn records into state, timers and emitted records.
 *
 * This file is the one entry point: it re-exports the contract types (job/contract/), the
 * builders (job/builders/) and the change-stream helpers. The runtime that drives actors lives in
 * worker/runtime/.
 *
 * ```ts
 * export default defineJob({
 *   name: 'counts',
 *   sources: { clicks: kafkaSource('clicks', { format: json<Click>(), partitions: 12 }) },
 *   sinks: { counts: kafkaSink('click-counts') },
 *   actors: {
 *     counter: keyedActor({
 *       from: 'clicks',
 *       key: (click: Click) => click.userId,
 *       initial: () => ({ count: 0 }),
 *       onRecord(click, state, ctx) { state.count += 1; ctx.emit('counts', ctx.key, state); },
 *     }),
 *   },
 * });
 * ```
 */
export type { ActorContext, EmitOptions, RecordMeta, Timer, TimerKind, Timers } from './contract/context.ts';
export type { DeadLetter, OutputRecord, SourceRecord } from './contract/records.ts';
export * from './contract/job.ts';
export type { DebeziumChange, DebeziumOp, DebeziumSource } from './formats/debezium.ts';
export { defineJob, isJobDefinition, JobDefinitionError } from './builders/define-job.ts';
export { debezium, json, text, type DebeziumFormatOptions, type JsonFormatOptions } from './builders/formats.ts';
export { broadcast, kafkaSink, kafkaSource, repartition, type KafkaSinkOptions, type KafkaSourceOptions } from './builders/kafka-connectors.ts';
export { keyedActor } from './builders/keyed-actor.ts';
export { postgresSink, type PostgresSinkOptions } from './builders/postgres-connectors.ts';
export { httpSink, natsSink, type HttpSinkOptions } from './builders/notify-connectors.ts';
export { optionsFromEnv } from './builders/options.ts';

export type { Change, Op } from './contract/change.ts';
export { changesBetween, emitChanges, isAddition, sameJson, upsertValue } from './changes/change.ts';
export { UNAVAILABLE_VALUE } from './formats/debezium.ts';
export { applyDebezium, cdcTable, changePosition, type CdcTableSpec, type TableState, type TableUpdate } from './changes/table.ts';
export { aggregate, avg, count, max, min, sum, topN, type Aggregate, type AggregateState, type Aggregator, type DecimalOptions, type Ordered, type Ranked, type TopNOptions, topNWeighted } from './changes/aggregates.ts';
export { manyToOne, streamTable, type JoinKind, type JoinState, type JoinUpdate, type LookupState, type ManyToOneJoin, type StreamTableJoin } from './changes/join.ts';
export { addToSession, hopping, isClosed, isoUtc, lateReason, tumbling, type Session, type SessionUpdate, type Window } from './changes/windows.ts';
export { rules, type FieldType, type RuleSpec, type Validator } from './changes/validation.ts';
export { streamsJob, StreamsBuilder, Table, Stream, GroupedTable, GroupedStream, WindowedStream, SessionStream, type StreamsJobSpec, type TableAggregateOptions } from './streams/builder.ts';
export type { JoinKind as StreamJoinKind, LateRecord, ProcessSpec, SessionAggregator, WindowAggregator, WindowOptions, Emit } from './streams/operators.ts';
