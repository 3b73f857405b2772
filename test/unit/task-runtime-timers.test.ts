import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor, type JobDefinition, type Tagged, type WatermarkOptions } from '../../job/api.ts';
import { checkpoint, openRuntime, record, restoreRuntime, tempDir, values } from './task-harness.ts';

/** `at`: event time; `timer`: register a timer (`kind` default event-time) at that time with that tag. */
type Cmd = { key: string; at: number; timer?: number; kind?: 'processing-time'; tag?: string; cancel?: number; boom?: boolean };

function unwrap(input: Cmd | Tagged<Record<string, Cmd>>): Cmd {
  return 'source' in input && 'value' in input ? input.value : input;
}

function timerJob(watermark: WatermarkOptions = {}, sources = ['cmds']): JobDefinition {
  return defineJob({
    name: 'timer-test',
    sources: Object.fromEntries(sources.map((name) => [name, kafkaSource(name, { format: json<Cmd>() })])),
    sinks: { fired: kafkaSink('fired', { delivery: 'at-least-once' }) },
    watermark,
    actors: {
      clock: keyedActor({
        from: sources,
        // One source: the Cmd; several: the tagged union { source, value }.
        key: (input: Cmd | Tagged<Record<string, Cmd>>) => unwrap(input).key,
        eventTime: (input) => unwrap(input).at,
        initial: () => ({ fired: 0 }),
        onRecord(input, _state, ctx) {
          const cmd = unwrap(input);
          if (cmd.cancel !== undefined) ctx.timers.cancel('event-time', cmd.cancel, cmd.tag);
          if (cmd.timer === undefined) return;
          if (cmd.kind === 'processing-time') ctx.timers.atProcessingTime(cmd.timer, cmd.tag);
          else ctx.timers.atEventTime(cmd.timer, cmd.tag);
        },
        onTimer(timer, state, ctx) {
          state.fired += 1;
          ctx.emit('fired', ctx.key, { ...timer, key: ctx.key, fired: state.fired, watermark: ctx.watermark, now: ctx.now(), record: ctx.record ?? null });
          if (timer.tag === 'boom') throw new Error('timer boom');
        },
      }),
    },
  });
}

const cmd = (offset: number, value: Cmd, topic = 'cmds') => record(topic, offset, value);
type Fired = { kind: string; timestampMs: number; tag: string; key: string; fired: number; watermark: number; now: number; record: null };

describe('TaskRuntime timers', () => {
  it('fires event-time timers in time order once the watermark passes them, after the batch', async () => {
    const runtime = await openRuntime(timerJob({ outOfOrdernessMs: 100 }), await tempDir());
    let result = await runtime.process(
      [cmd(0, { key: 'b', at: 1_000, timer: 1_500 }), cmd(1, { key: 'a', at: 1_000, timer: 1_200, tag: 'x' }), cmd(2, { key: 'a', at: 1_000, timer: 1_800 })],
      0,
    );
    expect(result.outputs).toEqual([]);
    expect(result.stats).toEqual({ actorsActive: 2, pendingOutputs: 0, timersPending: 3, watermarkMs: 900 });

    result = await runtime.process([cmd(3, { key: 'c', at: 1_700 })], 0); // watermark 1600
    expect((values(result.outputs) as Fired[]).map((f) => [f.key, f.timestampMs, f.tag, f.watermark])).toEqual([
      ['a', 1_200, 'x', 1_600],
      ['b', 1_500, '', 1_600],
    ]);
    expect(result.stats.timersPending).toBe(1);

    result = await runtime.process([cmd(4, { key: 'c', at: 1_000 })], 0); // late record: the watermark never goes back
    expect(result.outputs).toEqual([]);
    expect(result.stats.watermarkMs).toBe(1_600);
    await runtime.close();
  });

  it('fires processing-time timers on tick, once', async () => {
    const runtime = await openRuntime(timerJob(), await tempDir());
    await runtime.process([cmd(0, { key: 'a', at: 1, timer: 5_000, kind: 'processing-time' })], 1_000);
    expect((await runtime.tick(4_999)).outputs).toEqual([]);
    const fired = values((await runtime.tick(5_000)).outputs) as Fired[];
    expect(fired).toMatchObject([{ kind: 'processing-time', timestampMs: 5_000, now: 5_000, record: null }]);
    expect((await runtime.tick(9_000)).outputs).toEqual([]);
    await runtime.close();
  });

  it('keeps one timer per (kind, time, tag) and lets a handler cancel it', async () => {
    const runtime = await openRuntime(timerJob(), await tempDir());
    await runtime.process([cmd(0, { key: 'a', at: 1, timer: 50 }), cmd(1, { key: 'a', at: 1, timer: 50 }), cmd(2, { key: 'a', at: 1, timer: 60 })], 0);
    const result = await runtime.process([cmd(3, { key: 'a', at: 100, cancel: 60 })], 0);
    expect((values(result.outputs) as Fired[]).map((f) => f.timestampMs)).toEqual([50]);
    expect(result.stats.timersPending).toBe(0);
    await runtime.close();
  });

  it('keeps timers and the watermark across barrier and restore', async () => {
    const dir = await tempDir();
    const job = timerJob();
    const first = await openRuntime(job, dir);
    await first.process([cmd(0, { key: 'a', at: 10, timer: 20 }), cmd(1, { key: 'a', at: 10, timer: 30, kind: 'processing-time' })], 0);
    const snapshot = await checkpoint(first, dir, 1);
    await first.close();

    const second = await restoreRuntime(job, await tempDir(), snapshot, 1);
    let result = await second.tick(0);
    expect(result.stats).toEqual({ actorsActive: 0, pendingOutputs: 0, timersPending: 2, watermarkMs: 10 });
    result = await second.process([cmd(2, { key: 'b', at: 25 })], 30);
    expect((values(result.outputs) as Fired[]).map((f) => [f.kind, f.timestampMs])).toEqual([
      ['event-time', 20],
      ['processing-time', 30],
    ]);
    await second.close();
  });

  it('drops a timer whose handler throws, rolls its state back, and reports it', async () => {
    const runtime = await openRuntime(timerJob(), await tempDir());
    await runtime.process([cmd(0, { key: 'a', at: 1, timer: 5, tag: 'boom' }), cmd(1, { key: 'a', at: 1, timer: 6 })], 0);
    const result = await runtime.process([cmd(2, { key: 'z', at: 10 })], 0);
    expect(result.timerFailures).toEqual([{ actor: 'clock', key: 'a', timer: { kind: 'event-time', timestampMs: 5, tag: 'boom' }, reason: 'handler threw: timer boom' }]);
    expect(values(result.outputs)).toMatchObject([{ timestampMs: 6, fired: 1 }]); // the failed call's increment was rolled back
    await runtime.close();
  });

  it('holds the watermark at the slowest source, unless that source is idle', async () => {
    const runtime = await openRuntime(timerJob({ idleSourceMs: 1_000 }, ['fast', 'slow']), await tempDir());
    let result = await runtime.process([cmd(0, { key: 'a', at: 100, timer: 500 }, 'slow')], 0);
    result = await runtime.process([cmd(0, { key: 'a', at: 900 }, 'fast')], 800);
    expect(result.stats.watermarkMs).toBe(100);
    result = await runtime.tick(1_000);
    expect(result.outputs).toEqual([]);
    result = await runtime.tick(1_001); // slow has been idle for more than 1000 ms, fast has not
    expect(result.stats.watermarkMs).toBe(900);
    expect((values(result.outputs) as Fired[]).map((f) => f.timestampMs)).toEqual([500]);
    await runtime.close();
  });

  it('dead-letters a record whose handler registers a timer without onTimer', async () => {
    const job = defineJob({
      name: 'no-on-timer',
      sources: { cmds: kafkaSource('cmds', { format: json<Cmd>() }) },
      sinks: {},
      actors: { a: keyedActor({ from: 'cmds', key: (c: Cmd) => c.key, initial: () => null, onRecord: (_c, _s, ctx) => ctx.timers.atEventTime(5) }) },
    });
    const runtime = await openRuntime(job, await tempDir());
    const result = await runtime.process([cmd(0, { key: 'a', at: 1 })], 0);
    expect(result.deadLetters[0]?.reason).toBe("handler threw: actor 'a' registers a timer but has no onTimer");
    expect(result.stats.timersPending).toBe(0);
    await runtime.close();
  });
});
