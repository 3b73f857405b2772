import { describe, expect, it } from 'vitest';
import { BadRecordError } from '../../common/errors.ts';
import {
  addToSession,
  aggregate,
  applyDebezium,
  avg,
  changesBetween,
  count,
  hopping,
  isClosed,
  manyToOne,
  streamTable,
  max,
  min,
  sum,
  topN,
  tumbling,
  UNAVAILABLE_VALUE,
  upsertValue,
  rules,
  type Change,
  type DebeziumChange,
  type JoinState,
} from '../../job/api.ts';
import { SeededRandom } from '../../loadtest/cdc/random.ts';

type Row = { id: number; name: string; note: string | null };
const source = { connector: 'postgresql', name: 'shop', ts_ms: 5, db: 'shop', table: 't' };
const dbz = (op: DebeziumChange<Row>['op'], before: Row | null, after: Row | null): DebeziumChange<Row> => ({ op, before, after, source, tsMs: 6 });

describe('applyDebezium', () => {
  const ann: Row = { id: 1, name: 'ann', note: 'long text' };

  it('inserts, updates as retract-old + add-new, and deletes the row it knows', () => {
    const created = applyDebezium(null, dbz('c', null, ann), 10);
    expect(created).toEqual({ row: ann, changes: [{ op: 'insert', row: ann, ts: 10 }] });
    const renamed = { ...ann, name: 'anna' };
    const updated = applyDebezium(ann, dbz('u', null, renamed), 11);
    expect(updated.changes).toEqual([
      { op: 'update-before', row: ann, ts: 11 },
      { op: 'update-after', row: renamed, ts: 11 },
    ]);
    expect(applyDebezium(renamed, dbz('d', { id: 1, name: null, note: null } as unknown as Row, null), 12)).toEqual({ row: null, changes: [{ op: 'delete', row: renamed, ts: 12 }] });
  });

  it('never passes a key-only before image on as a row: a delete of an unknown row retracts nothing', () => {
    expect(applyDebezium(null, dbz('d', { id: 9 } as Row, null), 1)).toEqual({ row: null, changes: [] });
  });

  it('replaces the unchanged-TOAST placeholder with the last known value', () => {
    const update = applyDebezium(ann, dbz('u', null, { id: 1, name: 'bo', note: UNAVAILABLE_VALUE }), 2);
    expect(update.row).toEqual({ id: 1, name: 'bo', note: 'long text' });
    // As debezium() hands it over: the column absent from after and named as unavailable.
    const decoded = { ...dbz('u', null, { id: 1, name: 'cy' } as Row), unavailable: ['note'] };
    expect(applyDebezium(ann, decoded, 3).row).toEqual({ id: 1, name: 'cy', note: 'long text' });
  });

  it('refuses a placeholder it cannot fill, and a truncate, naming record and field', () => {
    const error = (() => {
      try {
        applyDebezium(null, dbz('u', null, { id: 1, name: 'bo', note: UNAVAILABLE_VALUE }), 2, 't[0]@4');
      } catch (thrown) {
        return thrown as BadRecordError;
      }
    })();
    expect(error).toBeInstanceOf(BadRecordError);
    expect(error?.message).toContain('t[0]@4');
    expect(error?.field).toBe('after.note');
    expect(() => applyDebezium(ann, dbz('t', null, null), 2)).toThrow(/op 't'/);
  });

  it('stays quiet when a snapshot read repeats the row it has', () => {
    expect(applyDebezium(ann, dbz('r', null, { ...ann }), 3).changes).toEqual([]);
  });
});

describe('upsertValue', () => {
  it('turns additions into values, deletes into tombstones and skips retractions of updates', () => {
    expect(changesBetween({ a: 1 }, { a: 2 }, 0).map(upsertValue)).toEqual([undefined, { value: { a: 2 } }]);
    expect(upsertValue({ op: 'delete', row: { a: 1 }, ts: 0 })).toEqual({ value: null });
  });
});

type Line = { id: number; group: string | null; amount: number };

describe('aggregates that retract', () => {
  const agg = aggregate({ n: count<Line>(), total: sum((l: Line) => l.amount), mean: avg((l: Line) => l.amount), low: min((l: Line) => l.amount), high: max((l: Line) => l.amount), top: topN((l: Line) => l.group, (l) => l.amount, { n: 2 }) });

  it('always equals the aggregate over the current rows, through random inserts, updates and deletes', () => {
    const random = new SeededRandom(7);
    const rows = new Map<number, Line>();
    let state = agg.init();
    for (let step = 0; step < 3_000; step++) {
      const id = random.int(1, 40);
      const before = rows.get(id) ?? null;
      const deleting = before !== null && random.int(0, 3) === 0;
      const after = deleting ? null : { id, group: random.int(0, 4) === 0 ? null : `g${random.int(1, 5)}`, amount: random.int(1, 99_999) / 100 };
      for (const change of changesBetween<Line>(before, after, step)) state = agg.apply(state, change);
      if (after === null) rows.delete(id);
      else rows.set(id, after);
      expect(agg.result(state)).toEqual(expected([...rows.values()]));
      expect(agg.isEmpty(state)).toBe(rows.size === 0);
    }
  });

  /** The same aggregates, computed from scratch over exact cents. */
  function expected(lines: Line[]) {
    const cents = lines.map((l) => Math.round(l.amount * 100));
    const total = cents.reduce((a, b) => a + b, 0);
    const groups = new Map<string, number>();
    for (const l of lines) if (l.group !== null) groups.set(l.group, (groups.get(l.group) ?? 0) + Math.round(l.amount * 100));
    const top = [...groups].sort(([ga, a], [gb, b]) => b - a || (ga < gb ? -1 : 1)).slice(0, 2).map(([group, c]) => ({ group, weight: c / 100 }));
    return {
      n: lines.length,
      total: total / 100,
      mean: lines.length === 0 ? null : Math.round(total / lines.length) / 100,
      low: lines.length === 0 ? null : Math.min(...cents) / 100,
      high: lines.length === 0 ? null : Math.max(...cents) / 100,
      top,
    };
  }

  it('sums exactly where binary floating point drifts', () => {
    const s = sum((x: number) => x);
    let units = s.init();
    for (let i = 0; i < 10; i++) units = s.add(units, 0.1);
    expect(s.result(units)).toBe(1);
    expect(s.result(s.remove(units, 0.1))).toBe(0.9);
  });
});

describe('windows', () => {
  it('assigns tumbling and hopping windows, aligned to the epoch, for times before it too', () => {
    expect(tumbling(300_000)(299_999)).toEqual([{ start: 0, end: 300_000 }]);
    expect(tumbling(10)(-1)).toEqual([{ start: -10, end: 0 }]);
    expect(hopping(10, 5)(12)).toEqual([
      { start: 5, end: 15 },
      { start: 10, end: 20 },
    ]);
  });

  it('merges session windows that a record bridges', () => {
    const plus = (a: number, b: number) => a + b;
    let sessions = addToSession([], 0, 20, 1, plus).sessions;
    sessions = addToSession(sessions, 30, 20, 1, plus).sessions;
    expect(sessions).toHaveLength(2);
    const bridged = addToSession(sessions, 15, 20, 1, plus);
    expect(bridged.session).toEqual({ start: 0, end: 50, value: 3 });
    expect(bridged.merged).toHaveLength(2);
    expect(bridged.sessions).toEqual([bridged.session]);
  });

  it('closes a window once the watermark passes its end plus the allowed lateness', () => {
    expect(isClosed(100, 99)).toBe(false);
    expect(isClosed(100, 100)).toBe(true);
    expect(isClosed(100, 149, 50)).toBe(false);
  });
});

describe('manyToOne joins', () => {
  type Item = { item: string; product: string; qty: number };
  type Product = { product: string; category: string };

  for (const kind of ['inner', 'left'] as const) {
    it(`(${kind}) always equals the join of the current tables, through random changes on both sides`, () => {
      const join = manyToOne((i: Item) => i.item, (i: Item, p: Product | null) => ({ item: i.item, category: p?.category ?? null }), kind);
      const random = new SeededRandom(kind === 'inner' ? 11 : 12);
      let state: JoinState<Item, Product> = join.init();
      let product: Product | null = null;
      const items = new Map<string, Item>();
      const results = new Map<string, number>(); // multiset of JSON results
      const apply = (changes: Change<unknown>[]) => {
        for (const c of changes) {
          const k = JSON.stringify(c.row);
          const n = (results.get(k) ?? 0) + (c.op === 'insert' || c.op === 'update-after' ? 1 : -1);
          if (n === 0) results.delete(k);
          else results.set(k, n);
        }
      };
      for (let step = 0; step < 2_000; step++) {
        if (random.int(0, 2) === 0) {
          const next = random.int(0, 3) === 0 ? null : { product: 'p', category: `c${random.int(1, 3)}` };
          for (const change of changesBetween(product, next, step)) {
            const update = join.one(state, change);
            state = update.state;
            apply(update.changes);
          }
          product = next;
        } else {
          const id = `i${random.int(1, 6)}`;
          const before = items.get(id) ?? null;
          const next = random.int(0, 3) === 0 ? null : { item: id, product: 'p', qty: random.int(1, 3) };
          for (const change of changesBetween(before, next, step)) {
            const update = join.many(state, change);
            state = update.state;
            apply(update.changes);
          }
          if (next === null) items.delete(id);
          else items.set(id, next);
        }
        const expectedRows = [...items.values()].flatMap((i) => (product === null && kind === 'inner' ? [] : [JSON.stringify({ item: i.item, category: product?.category ?? null })]));
        expect(new Map(expectedRows.map((k) => [k, 1]))).toEqual(results);
      }
    });
  }
});

describe('rules (declarative validation)', () => {
  type Event = { id: number; kind: string; price: number; qty?: number };
  const valid = rules<Event>({
    required: ['id', 'kind'],
    types: { id: 'integer', qty: 'integer' },
    ranges: { price: { positive: true }, qty: { min: 1, max: 10 } },
    allowed: { kind: ['view', 'buy'] },
    checks: [(e) => (e.kind === 'buy' && e.qty === undefined ? ['qty', 'is required to buy'] : null)],
  });

  it('passes a valid record through', () => {
    expect(valid({ id: 1, kind: 'view', price: 2.5 }, 'r')).toEqual({ id: 1, kind: 'view', price: 2.5 });
  });

  it('names every failure at once, with field paths', () => {
    let error: BadRecordError | undefined;
    try {
      valid({ id: 1.5, kind: 'steal', price: 0, qty: 11 }, 'shop[2]@7', 'after');
    } catch (thrown) {
      error = thrown as BadRecordError;
    }
    expect(error).toBeInstanceOf(BadRecordError);
    expect(error?.record).toBe('shop[2]@7');
    expect(error?.field).toBe('after.id,after.price,after.qty,after.kind');
    expect(error?.reason).toBe('after.id must be an integer, got 1.5; after.price must be positive, got 0; after.qty must be ≤ 10, got 11; after.kind must be one of "view", "buy", got "steal"');
  });

  it('runs cross-field checks once the field rules hold', () => {
    expect(() => valid({ id: 1, kind: 'buy', price: 1 }, 'r')).toThrow(/qty is required to buy/);
    expect(() => valid({ kind: 'buy', price: 1 }, 'r')).toThrow(/^bad record r: field 'id': id is required$/);
  });
});

describe('streamTable joins', () => {
  type Click = { user: string; page: string };
  type User = { user: string; tier: string };
  const change = (op: Change<User>['op'], row: User): Change<User> => ({ op, row, ts: 0 });

  it('joins each stream record with the row current when it arrives, and never revisits it', () => {
    const inner = streamTable((c: Click, u: User | null) => ({ page: c.page, tier: u?.tier ?? null }));
    let state = inner.init();
    expect(inner.stream(state, { user: 'a', page: '/0' })).toBeUndefined(); // no row yet
    state = inner.table(state, change('insert', { user: 'a', tier: 'free' }));
    expect(inner.stream(state, { user: 'a', page: '/1' })).toEqual({ page: '/1', tier: 'free' });
    state = inner.table(state, change('update-before', { user: 'a', tier: 'free' }));
    state = inner.table(state, change('update-after', { user: 'a', tier: 'pro' }));
    expect(inner.stream(state, { user: 'a', page: '/2' })).toEqual({ page: '/2', tier: 'pro' });
    state = inner.table(state, change('delete', { user: 'a', tier: 'pro' }));
    expect(inner.stream(state, { user: 'a', page: '/3' })).toBeUndefined();
    const left = streamTable((c: Click, u: User | null) => ({ page: c.page, tier: u?.tier ?? null }), 'left');
    expect(left.stream(left.init(), { user: 'a', page: '/4' })).toEqual({ page: '/4', tier: null });
  });
});
