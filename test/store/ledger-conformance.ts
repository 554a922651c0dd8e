/**
 * The ledger port's contract, one suite for every implementation: the embedded DuckDB ledger
 * runs it now, the PostgreSQL ledger will run it unchanged. Time is injected: every call gets
 * `now`, so retries and leases are tested without sleeping.
 */
import { describe, expect, it } from 'vitest';
import { definitionHash, snapshotId } from '../../src/model/jobs/snapshot.js';
import {
  DEFAULT_PARTITION,
  type ClaimedJob,
  type JsonValue,
  type Ledger,
  type NewJob,
  type NewRun,
  type Snapshot,
} from '../../src/store/ledger.js';
import { makeTask } from '../model/make-task.js';

export interface LedgerHarness {
  ledger: Ledger;
  close(): Promise<void>;
}

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE = 60_000;

function snapshotOf(names: readonly string[], upstream: Record<string, string[]> = {}): Snapshot {
  const tasks = new Map(
    names.map((name) => {
      const definition = { ...makeTask(`-- @task name=${name}\nSELECT 1`), name };
      return [name, { definition, hash: definitionHash(definition), upstream: upstream[name] ?? [] }] as const;
    }),
  );
  return { id: snapshotId([...tasks].map(([name, t]) => ({ name, hash: t.hash, upstream: t.upstream }))), createdAt: T0, tasks };
}

let runCounter = 0;

/** a → b → c, and d on its own. */
async function enqueueChain(ledger: Ledger, options: { maxAttempts?: number; now?: Date } = {}) {
  const snapshot = snapshotOf(['a', 'b', 'c', 'd'], { b: ['a'], c: ['b'] });
  await ledger.saveSnapshot(snapshot);
  const jobs: NewJob[] = [
    { task: 'a', upstream: [], maxAttempts: options.maxAttempts ?? 1 },
    { task: 'b', upstream: ['a'], maxAttempts: options.maxAttempts ?? 1 },
    { task: 'c', upstream: ['b'], maxAttempts: options.maxAttempts ?? 1 },
    { task: 'd', upstream: [], maxAttempts: options.maxAttempts ?? 1 },
  ];
  const id = `00000000-0000-4000-8000-${String(++runCounter).padStart(12, '0')}`;
  return ledger.enqueueRun(
    { id, snapshotId: snapshot.id, trigger: 'test', selector: null, inputs: { day: '2026-03-01' }, jobs },
    options.now ?? T0,
  );
}

const claimAll = (ledger: Ledger, now: Date, runId?: string, worker = 'w1') =>
  ledger.claim({ worker, limit: 100, leaseMs: LEASE, now, ...(runId ? { runId } : {}) });
const names = (jobs: readonly { task: string }[]) => jobs.map((j) => j.task).sort();
const success = { rows: 1, result: null, watermark: null, codeVersion: 'v1', assets: [] as string[] };
const failure = (error: string, retryable = true, retryDelayMs = 5_000) => ({
  error,
  errorContext: { kind: 'sql' },
  retryable,
  retryDelayMs,
  assets: [] as string[],
  codeVersion: 'v1',
});
const byTask = (jobs: ClaimedJob[], task: string) => jobs.find((j) => j.task === task)!;

export function ledgerConformance(name: string, open: () => Promise<LedgerHarness>): void {
  const withLedger = (title: string, fn: (ledger: Ledger) => Promise<void>) =>
    it(title, async () => {
      const h = await open();
      try {
        await fn(h.ledger);
      } finally {
        await h.close();
      }
    });

  describe(`ledger conformance: ${name}`, () => {
    withLedger('wakes subscribers when jobs become claimable: enqueued, or their upstream done', async (ledger) => {
      let calls = 0;
      let wake: () => void = () => undefined;
      const woken = () => new Promise<void>((resolve) => (wake = resolve));
      const unsubscribe = await ledger.subscribe(() => {
        calls++;
        wake();
      });
      try {
        let next = woken();
        await enqueueChain(ledger);
        await next;
        const roots = await claimAll(ledger, T0);
        const before = calls;
        next = woken();
        await ledger.complete(byTask(roots, 'a'), 'w1', success, at(1));
        await next;
        expect(calls).toBeGreaterThan(before);
        expect(names(await claimAll(ledger, at(2)))).toEqual(['b']);
      } finally {
        await unsubscribe();
      }
    });

    withLedger('completes jobs that ended together and claims the next in one call; jobs not held are lost', async (ledger) => {
      const run = await enqueueChain(ledger);
      const roots = await ledger.claim({ worker: 'w1', limit: 5, leaseMs: LEASE, now: T0, runId: run.id });
      expect(names(roots)).toEqual(['a', 'd']);
      const next = { worker: 'w1', limit: 5, leaseMs: LEASE, now: at(1), runId: run.id };
      const done = await ledger.completeAndClaim(
        'w1',
        roots.map((job) => ({ job, outcome: success })),
        at(1),
        next,
      );
      expect(done.lost).toEqual([]);
      // b became ready with a's completion: that call takes it, or (PostgreSQL: one snapshot) the next claim.
      const again = await ledger.claim({ ...next, now: at(2) });
      expect(names([...done.claimed, ...again])).toEqual(['b']);
      const b = [...done.claimed, ...again][0]!;
      expect([b.state, b.leaseOwner, b.snapshotId]).toEqual(['processing', 'w1', run.snapshotId]);
      expect(names(await ledger.listJobs({ limit: 10, runId: run.id, states: ['succeeded'] }))).toEqual(['a', 'd']);
      expect((await ledger.listAttempts(roots.map((j) => j.id))).map((x) => x.outcome)).toEqual(['succeeded', 'succeeded']);
      // b is not held by w2: nothing of it is recorded, and nothing is claimed for it.
      const stranger = await ledger.completeAndClaim('w2', [{ job: b, outcome: success }], at(3), { ...next, worker: 'w2', now: at(3) });
      expect(stranger).toEqual({ claimed: [], lost: [b.id] });
      expect((await ledger.listJobs({ limit: 10, runId: run.id, states: ['processing'] })).map((j) => j.leaseOwner)).toEqual(['w1']);
    });

    withLedger('records two jobs of one task and partition ending together (two runs) once each', async (ledger) => {
      await enqueueChain(ledger);
      await enqueueChain(ledger);
      const ds = await ledger.claim({ worker: 'w1', limit: 5, leaseMs: LEASE, now: T0, tasks: new Set(['d']) });
      expect(ds).toHaveLength(2);
      const next = { worker: 'w1', limit: 2, leaseMs: LEASE, now: at(1), tasks: new Set(['d']) };
      const { lost } = await ledger.completeAndClaim(
        'w1',
        ds.map((job) => ({ job, outcome: { ...success, assets: ['main.d'] } })),
        at(1),
        next,
      );
      expect(lost).toEqual([]);
      expect((await ledger.listAttempts(ds.map((j) => j.id))).map((x) => x.outcome)).toEqual(['succeeded', 'succeeded']);
      expect((await ledger.taskStates()).find((t) => t.name === 'd')?.status).toBe('succeeded');
      expect((await ledger.assetStates('main.d')).map((a) => a.status)).toEqual(['succeeded']);
    });

    withLedger('a job waiting for several upstream jobs is ready once the last of them is done, in any order', async (ledger) => {
      const snapshot = snapshotOf(['u1', 'u2', 'u3', 'sink'], { sink: ['u1', 'u2', 'u3'] });
      await ledger.saveSnapshot(snapshot);
      const run = await ledger.enqueueRun(
        {
          id: '00000000-0000-4000-8000-0000000fa117',
          snapshotId: snapshot.id,
          trigger: 'test',
          selector: null,
          inputs: null,
          jobs: [
            { task: 'u1', upstream: [], maxAttempts: 1 },
            { task: 'u2', upstream: [], maxAttempts: 1 },
            { task: 'u3', upstream: [], maxAttempts: 1 },
            { task: 'sink', upstream: ['u1', 'u2', 'u3'], maxAttempts: 1 },
          ],
        },
        T0,
      );
      const ups = await claimAll(ledger, T0, run.id);
      expect(names(ups)).toEqual(['u1', 'u2', 'u3']);
      // The last in the sink's list first, then the first: the sink still waits for the middle one.
      await ledger.complete(byTask(ups, 'u3'), 'w1', success, at(1));
      await ledger.complete(byTask(ups, 'u1'), 'w1', success, at(2));
      expect(await claimAll(ledger, at(3), run.id)).toEqual([]);
      await ledger.complete(byTask(ups, 'u2'), 'w1', success, at(4));
      expect(names(await claimAll(ledger, at(5), run.id))).toEqual(['sink']);
    });

    withLedger('tells when the earliest lease runs out', async (ledger) => {
      expect(await ledger.nextLeaseExpiry()).toBeUndefined();
      const run = await enqueueChain(ledger);
      await ledger.claim({ worker: 'w1', limit: 1, leaseMs: LEASE, now: at(10), runId: run.id });
      await ledger.claim({ worker: 'w2', limit: 1, leaseMs: LEASE, now: at(20), runId: run.id });
      expect((await ledger.nextLeaseExpiry())?.getTime()).toBe(at(10 + LEASE).getTime());
      await ledger.heartbeat(
        'w1',
        (await ledger.listJobs({ limit: 10, states: ['processing'] })).map((j) => j.id),
        LEASE,
        at(30),
      );
      expect((await ledger.nextLeaseExpiry())?.getTime()).toBe(at(20 + LEASE).getTime());
    });

    withLedger('stores a snapshot once, by its content address, and loads all or some of its tasks', async (ledger) => {
      const snapshot = snapshotOf(['a', 'b'], { b: ['a'] });
      await ledger.saveSnapshot(snapshot);
      await ledger.saveSnapshot(snapshot);
      const loaded = await ledger.loadSnapshot(snapshot.id);
      expect([...loaded!.tasks.keys()].sort()).toEqual(['a', 'b']);
      expect(loaded!.tasks.get('b')!.upstream).toEqual(['a']);
      expect(loaded!.tasks.get('a')!.definition).toEqual(snapshot.tasks.get('a')!.definition);
      expect([...(await ledger.loadSnapshot(snapshot.id, ['b']))!.tasks.keys()]).toEqual(['b']);
      expect(await ledger.loadSnapshot('sha256:nope')).toBeUndefined();
    });

    withLedger('enqueues a run whose root jobs are claimable and whose downstream jobs wait', async (ledger) => {
      const run = await enqueueChain(ledger);
      expect(run).toMatchObject({ state: 'queued', counts: { pending: 4 }, tasks: ['a', 'b', 'c', 'd'], trigger: 'test' });
      const claimed = await claimAll(ledger, T0);
      expect(names(claimed)).toEqual(['a', 'd']);
      expect(byTask(claimed, 'a')).toMatchObject({
        state: 'processing',
        attempts: 1,
        leaseOwner: 'w1',
        startedAt: T0,
        runInputs: { day: '2026-03-01' },
      });
      expect(await claimAll(ledger, T0)).toEqual([]);
      expect((await ledger.getRun(run.id))!.state).toBe('running');
    });

    withLedger('enqueues many runs at once, each with its own jobs, all of them or none', async (ledger) => {
      const snapshot = snapshotOf(['a', 'b'], { b: ['a'] });
      await ledger.saveSnapshot(snapshot);
      const jobs: NewJob[] = [
        { task: 'a', upstream: [], maxAttempts: 3 },
        { task: 'b', upstream: ['a'], maxAttempts: 1 },
      ];
      const id = (n: number) => `00000000-0000-4000-8000-0000000b${String(n).padStart(4, '0')}`;
      const run = (n: number, extra: Partial<NewRun> = {}): NewRun => ({
        id: id(n),
        snapshotId: snapshot.id,
        trigger: 'enqueue',
        selector: null,
        inputs: { n },
        jobs,
        dag: 'etl',
        ...extra,
      });
      let wake: () => void = () => undefined;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const unsubscribe = await ledger.subscribe(() => wake());
      let runs;
      try {
        // Runs 1 and 2 share their list of jobs; run 6 lists the same jobs the other way round.
        runs = await ledger.enqueueRuns(
          [run(1, { metadata: { source: 'app' } }), run(2), run(3, { jobs: [] }), run(6, { jobs: [jobs[1]!, jobs[0]!] })],
          T0,
        );
        await woken;
      } finally {
        await unsubscribe();
      }
      expect(runs.map((r) => [r.id, r.state, r.counts, r.tasks, r.dag, r.inputs])).toEqual([
        [id(1), 'queued', { pending: 2 }, ['a', 'b'], 'etl', { n: 1 }],
        [id(2), 'queued', { pending: 2 }, ['a', 'b'], 'etl', { n: 2 }],
        [id(3), 'succeeded', {}, [], 'etl', { n: 3 }],
        [id(6), 'queued', { pending: 2 }, ['b', 'a'], 'etl', { n: 6 }],
      ]);
      expect(runs[0]!.metadata).toEqual({ source: 'app' });
      for (const r of runs) expect(await ledger.getRun(r.id)).toEqual(r);
      expect(await ledger.queueDepth({ dag: 'etl' })).toEqual({ pending: 6 });
      // Each run's b waits for its own a only.
      const roots = await claimAll(ledger, T0);
      expect(roots.map((j) => [j.runId, j.task, j.maxAttempts, j.runInputs]).sort()).toEqual([
        [id(1), 'a', 3, { n: 1 }],
        [id(2), 'a', 3, { n: 2 }],
        [id(6), 'a', 3, { n: 6 }],
      ]);
      for (const n of [2, 6])
        await ledger.complete(
          roots.find((j) => j.runId === id(n))!,
          'w1',
          success,
          at(1),
        );
      expect((await claimAll(ledger, at(2))).map((j) => [j.runId, j.task]).sort()).toEqual([
        [id(2), 'b'],
        [id(6), 'b'],
      ]);
      // A run id taken already, or twice in the batch, fails the whole batch: nothing of it is written.
      await expect(ledger.enqueueRuns([run(4), run(1)], at(3))).rejects.toMatchObject({
        code: 'DUPLICATE_RUN',
        message: expect.stringContaining(id(1)),
      });
      await expect(ledger.enqueueRuns([run(5), run(5)], at(3))).rejects.toMatchObject({ code: 'DUPLICATE_RUN' });
      expect(await ledger.getRun(id(4))).toBeUndefined();
      expect(await ledger.getRun(id(5))).toBeUndefined();
      expect(await ledger.enqueueRuns([], at(3))).toEqual([]);
      expect(await ledger.queueDepth()).toEqual({ pending: 1, processing: 3, succeeded: 2 });
    });

    withLedger('claims at most `limit` jobs, and only the given run’s when asked', async (ledger) => {
      const first = await enqueueChain(ledger);
      const second = await enqueueChain(ledger, { now: at(1) });
      expect(await ledger.claim({ worker: 'w', limit: 1, leaseMs: LEASE, now: at(2) })).toHaveLength(1);
      const mine = await claimAll(ledger, at(2), second.id);
      expect(mine.every((j) => j.runId === second.id)).toBe(true);
      expect(names(mine)).toEqual(['a', 'd']);
      expect((await claimAll(ledger, at(2))).every((j) => j.runId === first.id)).toBe(true);
    });

    withLedger('a success makes the downstream job claimable; the run succeeds when every job has', async (ledger) => {
      const run = await enqueueChain(ledger);
      let claimed = await claimAll(ledger, T0);
      for (const j of claimed) await ledger.complete(j, 'w1', { ...success, result: { from: j.task } }, at(10));
      claimed = await claimAll(ledger, at(11));
      expect(names(claimed)).toEqual(['b']);
      expect(await ledger.upstreamResults(claimed[0]!, ['a'])).toEqual({ a: { from: 'a' } });
      await ledger.complete(claimed[0]!, 'w1', success, at(20));
      const c = await claimAll(ledger, at(21));
      await ledger.complete(c[0]!, 'w1', success, at(30));
      const done = (await ledger.getRun(run.id))!;
      expect(done).toMatchObject({ state: 'succeeded', counts: { succeeded: 4 }, finishedAt: at(30), startedAt: T0 });
      expect(await ledger.nextDue({ runId: run.id })).toBeUndefined();
      // A later run of `b` alone still gets `a`'s result: from its latest success.
      const alone = await ledger.enqueueRun(
        {
          id: `${run.id.slice(0, -4)}beef`,
          snapshotId: run.snapshotId!,
          trigger: 'test',
          selector: null,
          inputs: null,
          jobs: [{ task: 'b', upstream: [], maxAttempts: 1 }],
        },
        at(40),
      );
      const [b] = await claimAll(ledger, at(41), alone.id);
      expect(await ledger.upstreamResults(b!, ['a', 'never'])).toEqual({ a: { from: 'a' }, never: null });
    });

    withLedger('a failed attempt waits for its retry at run_at without being claimable, then runs again', async (ledger) => {
      const run = await enqueueChain(ledger, { maxAttempts: 2 });
      const a = byTask(await claimAll(ledger, T0), 'a');
      const { job } = await ledger.fail(a, 'w1', failure('boom', true, 5_000), at(100));
      expect(job).toMatchObject({ state: 'failed', attempts: 1, error: 'boom', runAt: at(5_100) });
      expect(await claimAll(ledger, at(5_099), run.id)).toEqual([]);
      expect(await ledger.nextDue({ runId: run.id })).toEqual(at(5_100));
      const again = await claimAll(ledger, at(5_100), run.id);
      expect(again.map((j) => [j.task, j.attempts])).toEqual([['a', 2]]);
      await ledger.complete(again[0]!, 'w1', success, at(5_200));
      // The error of the failed attempt is kept beside the success.
      const attempts = await ledger.listAttempts([a.id]);
      expect(attempts.map((x) => [x.attempt, x.outcome, x.error])).toEqual([
        [1, 'failed', 'boom'],
        [2, 'succeeded', null],
      ]);
      expect(attempts[0]).toMatchObject({ startedAt: T0, finishedAt: at(100), worker: 'w1' });
    });

    withLedger('out of attempts the job is dead and its downstream jobs are blocked; the run fails', async (ledger) => {
      const run = await enqueueChain(ledger);
      const roots = await claimAll(ledger, T0);
      const { job, downstream } = await ledger.fail(byTask(roots, 'a'), 'w1', failure('no table'), at(10));
      expect(job.state).toBe('dead');
      expect(downstream.map((d) => [d.task, d.state])).toEqual([
        ['b', 'blocked'],
        ['c', 'blocked'],
      ]);
      expect(downstream[0]!.error).toMatch(/upstream task `a`/);
      expect(await claimAll(ledger, at(11))).toEqual([]);
      await ledger.complete(byTask(roots, 'd'), 'w1', success, at(12));
      expect(await ledger.getRun(run.id)).toMatchObject({ state: 'failed', counts: { dead: 1, blocked: 2, succeeded: 1 } });
    });

    withLedger('retrying a dead job brings what it blocked back as it succeeds, across a finished run', async (ledger) => {
      const run = await enqueueChain(ledger);
      const roots = await claimAll(ledger, T0);
      await ledger.fail(byTask(roots, 'a'), 'w1', failure('source missing'), at(1));
      await ledger.complete(byTask(roots, 'd'), 'w1', success, at(2));
      expect(await ledger.getRun(run.id)).toMatchObject({ state: 'failed', counts: { dead: 1, blocked: 2, succeeded: 1 } });
      expect(await ledger.retryJobs({ states: ['dead'], task: 'nope' }, at(9))).toEqual([]);
      // Which jobs, of which run and snapshot: a dry run lists them and changes nothing.
      const a0 = (await ledger.listJobs({ limit: 10, runId: run.id, task: 'a' }))[0]!;
      const expected = [{ id: a0.id, runId: run.id, task: 'a', partitionKey: DEFAULT_PARTITION, snapshotId: run.snapshotId }];
      expect(await ledger.retryJobs({ states: ['dead'], since: at(1), dryRun: true }, at(10))).toEqual(expected);
      expect(await ledger.queueDepth({ runId: run.id })).toEqual({ dead: 1, blocked: 2, succeeded: 1 });
      expect(await ledger.retryJobs({ states: ['dead'], since: at(1) }, at(10))).toEqual(expected);
      const a = await claimAll(ledger, at(11));
      expect(a.map((j) => [j.task, j.attempts])).toEqual([['a', 1]]);
      await ledger.complete(a[0]!, 'w1', success, at(12));
      const b = await claimAll(ledger, at(13));
      expect(names(b)).toEqual(['b']);
      await ledger.complete(b[0]!, 'w1', success, at(14));
      const c = await claimAll(ledger, at(15));
      expect(names(c)).toEqual(['c']);
      await ledger.complete(c[0]!, 'w1', success, at(16));
      expect(await ledger.getRun(run.id)).toMatchObject({ state: 'succeeded', counts: { succeeded: 4 } });
    });

    withLedger('a failure retrying cannot fix is dead at once, attempts left or not', async (ledger) => {
      await enqueueChain(ledger, { maxAttempts: 5 });
      const a = byTask(await claimAll(ledger, T0), 'a');
      expect((await ledger.fail(a, 'w1', failure('test failed', false), at(1))).job).toMatchObject({ state: 'dead', attempts: 1 });
    });

    withLedger('retrying a run puts dead and blocked jobs back; what succeeded is not re-run', async (ledger) => {
      const run = await enqueueChain(ledger);
      const first = await claimAll(ledger, T0);
      await ledger.fail(byTask(first, 'a'), 'w1', failure('boom'), at(1));
      await ledger.complete(byTask(first, 'd'), 'w1', success, at(2));
      const snapshot = snapshotOf(['a', 'b', 'c', 'd'], { b: ['a'], c: ['b'] });
      expect(await ledger.retryRun(run.id, at(10), snapshot.id)).toBe(3);
      expect((await ledger.getRun(run.id))!.state).not.toBe('failed');
      const again = await claimAll(ledger, at(11));
      expect(again.map((j) => [j.task, j.attempts])).toEqual([['a', 1]]);
      await ledger.complete(again[0]!, 'w1', success, at(12));
      const b = await claimAll(ledger, at(13));
      await ledger.complete(b[0]!, 'w1', success, at(14));
      await ledger.complete((await claimAll(ledger, at(15)))[0]!, 'w1', success, at(16));
      expect(await ledger.getRun(run.id)).toMatchObject({ state: 'succeeded', counts: { succeeded: 4 } });
    });

    withLedger('a skipped job (task missing) lets its downstream jobs run', async (ledger) => {
      await enqueueChain(ledger);
      const a = byTask(await claimAll(ledger, T0), 'a');
      await ledger.skip(a, 'w1', 'task `a` was removed', at(1));
      const next = await claimAll(ledger, at(2));
      expect(names(next)).toEqual(['b']);
      expect(await ledger.upstreamResults(next[0]!, ['a'])).toEqual({ a: null });
    });

    withLedger(
      'cancelling a run cancels what waits at once; a job in flight runs until its worker, told by its heartbeat, stops it',
      async (ledger) => {
        const run = await enqueueChain(ledger);
        const claimed = await claimAll(ledger, T0);
        await ledger.complete(byTask(claimed, 'd'), 'w1', success, at(1));
        const a = byTask(claimed, 'a');
        const cancelled = await ledger.cancelRun(run.id, 'cancelled by the user', at(2));
        expect(names(cancelled)).toEqual(['a', 'b', 'c']);
        expect(cancelled.map((j) => [j.task, j.state, j.cancelRequested, j.error])).toEqual([
          ['a', 'processing', true, 'cancelled by the user'],
          ['b', 'cancelled', false, 'cancelled by the user'],
          ['c', 'cancelled', false, 'cancelled by the user'],
        ]);
        // Still running: nothing else of its task and partition may start meanwhile.
        expect(await ledger.getRun(run.id)).toMatchObject({ state: 'running' });
        expect(await ledger.heartbeat('w1', [a.id], LEASE, at(3))).toEqual({ lost: [], cancelled: [a.id] });
        await ledger.fail(a, 'w1', { ...failure('cancelled while it ran'), cancelled: true }, at(4));
        expect(await claimAll(ledger, at(5))).toEqual([]);
        expect(await ledger.getRun(run.id)).toMatchObject({ state: 'cancelled', counts: { cancelled: 3, succeeded: 1 } });
        expect((await ledger.listAttempts([a.id])).map((x) => [x.outcome, x.worker])).toEqual([['cancelled', 'w1']]);
      },
    );

    withLedger('a job cancelled in flight ends cancelled, not pending, when its worker hands it back or dies', async (ledger) => {
      const run = await enqueueChain(ledger);
      const claimed = await claimAll(ledger, T0);
      const [a, d] = [byTask(claimed, 'a'), byTask(claimed, 'd')];
      await ledger.cancelRun(run.id, 'cancelled by the user', at(1));
      await ledger.release('w1', [a.id], at(2));
      expect(await ledger.reapExpired(at(LEASE + 10))).toBe(1);
      const jobs = await ledger.listJobs({ limit: 10, runId: run.id });
      expect(jobs.filter((j) => j.task === 'a' || j.task === 'd').map((j) => [j.task, j.state])).toEqual(
        expect.arrayContaining([
          ['a', 'cancelled'],
          ['d', 'cancelled'],
        ]),
      );
      expect((await ledger.listAttempts([a.id, d.id])).map((x) => [x.jobId === a.id ? 'a' : 'd', x.outcome]).sort()).toEqual([
        ['a', 'released'],
        ['d', 'lost'],
      ]);
      expect(await ledger.getRun(run.id)).toMatchObject({ state: 'cancelled', counts: { cancelled: 4 } });
    });

    withLedger(
      'two jobs of one task and partition that write a database never run at once; other partitions and Dag tasks do',
      async (ledger) => {
        const snapshot = snapshotOf(['load', 'fn']);
        await ledger.saveSnapshot(snapshot);
        const enqueue = (n: number, jobs: NewJob[]) =>
          ledger.enqueueRun(
            {
              id: `00000000-0000-4000-9000-${String(++runCounter).padStart(12, '0')}`,
              snapshotId: snapshot.id,
              trigger: 'test',
              selector: null,
              inputs: null,
              jobs,
            },
            at(n),
          );
        const writer = (partitionKey: string): NewJob => ({ task: 'load', partitionKey, upstream: [], maxAttempts: 1, database: 'db-1' });
        const fn: NewJob = { task: 'fn', upstream: [], maxAttempts: 1 };
        const first = await enqueue(0, [writer('p1'), fn]);
        const second = await enqueue(1, [writer('p1'), writer('p2'), fn]);
        const taken = await claimAll(ledger, at(2));
        // One `load p1` (the older), `load p2`, and both function jobs.
        expect(taken.map((j) => [j.runId === first.id ? 1 : 2, j.task, j.partitionKey]).sort()).toEqual([
          [1, 'fn', '__default__'],
          [1, 'load', 'p1'],
          [2, 'fn', '__default__'],
          [2, 'load', 'p2'],
        ]);
        // Held back, not forgotten: a worker waiting for it sees it due.
        expect(await ledger.nextDue({ runId: second.id })).toBeDefined();
        expect(await claimAll(ledger, at(3))).toEqual([]);
        const firstLoad = taken.find((j) => j.runId === first.id && j.task === 'load')!;
        await ledger.complete(firstLoad, 'w1', success, at(4));
        const next = await claimAll(ledger, at(5), undefined, 'w2');
        expect(next.map((j) => [j.runId === second.id, j.task, j.partitionKey])).toEqual([[true, 'load', 'p1']]);
      },
    );

    withLedger('the worker decides the attempts a failing job gets, over what was recorded at enqueue', async (ledger) => {
      const run = await enqueueChain(ledger, { maxAttempts: 1 });
      const a = byTask(await claimAll(ledger, T0, run.id), 'a');
      const { job } = await ledger.fail(a, 'w1', { ...failure('boom'), maxAttempts: 3 }, at(1));
      expect([job.state, job.maxAttempts]).toEqual(['failed', 3]);
      const again = byTask(await claimAll(ledger, at(10_000), run.id), 'a');
      expect((await ledger.fail(again, 'w1', { ...failure('boom') }, at(10_001))).job).toMatchObject({ state: 'failed', attempts: 2 });
      const third = byTask(await claimAll(ledger, at(30_000), run.id), 'a');
      expect((await ledger.fail(third, 'w1', { ...failure('boom'), maxAttempts: 3 }, at(30_001))).job.state).toBe('dead');
    });

    withLedger('a released job is claimable again and its attempt does not count', async (ledger) => {
      await enqueueChain(ledger);
      const a = byTask(await claimAll(ledger, T0), 'a');
      await ledger.release('w1', [a.id], at(5));
      const again = byTask(await claimAll(ledger, at(6), undefined, 'w2'), 'a');
      expect(again).toMatchObject({ attempts: 1, leaseOwner: 'w2', startedAt: at(6) });
      expect((await ledger.listAttempts([a.id])).map((x) => [x.outcome, x.worker, x.startedAt])).toEqual([['released', 'w1', T0]]);
    });

    withLedger('heartbeats extend the holder’s lease only; expired leases are reaped with their real start time', async (ledger) => {
      await enqueueChain(ledger);
      const claimed = await claimAll(ledger, T0);
      const a = byTask(claimed, 'a');
      expect(await ledger.heartbeat('w2', [a.id], LEASE, at(1))).toEqual({ lost: [a.id], cancelled: [] });
      expect(await ledger.heartbeat('w1', [a.id], LEASE, at(30_000))).toEqual({ lost: [], cancelled: [] });
      expect(await ledger.reapExpired(at(LEASE + 1))).toBe(1); // d's lease ran out; a's was extended
      expect(await ledger.reapExpired(at(30_000 + LEASE))).toBe(1);
      const lost = await ledger.listAttempts([a.id]);
      expect(lost.map((x) => [x.outcome, x.startedAt])).toEqual([['lost', T0]]);
      expect(names(await claimAll(ledger, at(30_000 + LEASE + 1), undefined, 'w3'))).toEqual(['a', 'd']);
    });

    withLedger('a job the worker does not hold cannot be completed or failed', async (ledger) => {
      await enqueueChain(ledger);
      const a = byTask(await claimAll(ledger, T0), 'a');
      await expect(ledger.complete(a, 'w2', success, at(1))).rejects.toThrow(/not held by w2/);
      await ledger.complete(a, 'w1', success, at(1));
      await expect(ledger.fail(a, 'w1', failure('late'), at(2))).rejects.toThrow(/succeeded/);
    });

    withLedger('history: jobs, runs, queue depth, failures, the latest state per task and asset, and watermarks', async (ledger) => {
      const run = await enqueueChain(ledger, { maxAttempts: 2 });
      const claimed = await claimAll(ledger, T0);
      await ledger.complete(
        byTask(claimed, 'a'),
        'w1',
        { ...success, rows: 7, watermark: '2026-03-01 00:00:00', assets: ['raw.a', 'raw.a2'] },
        at(1),
      );
      await ledger.fail(byTask(claimed, 'd'), 'w1', { ...failure('flaky'), assets: ['raw.d'] }, at(2));
      expect(await ledger.queueDepth({ runId: run.id })).toEqual({ succeeded: 1, failed: 1, pending: 2 });
      const all = await ledger.queueDepth();
      expect(all.succeeded).toBeGreaterThanOrEqual(1);
      expect(await ledger.queueDepth({ runId: run.id, tasks: ['a', 'b'] })).toEqual({ succeeded: 1, pending: 1 });
      expect((await ledger.listJobs({ runId: run.id, tasks: ['c', 'd'], limit: 10 })).map((j) => j.task).sort()).toEqual(['c', 'd']);
      expect(await ledger.lastWatermark('a')).toBe('2026-03-01 00:00:00');
      expect(await ledger.lastWatermark('b')).toBeNull();
      const tasks = await ledger.taskStates();
      expect(tasks.find((t) => t.name === 'a')).toEqual({
        name: 'a',
        partitionKey: '__default__',
        status: 'succeeded',
        at: at(1),
        rows: 7,
        lastSuccessAt: at(1),
        codeVersion: success.codeVersion,
      });
      const assets = await ledger.assetStates();
      expect(assets.filter((s) => s.name.startsWith('raw.')).map((s) => [s.name, s.status, s.rows])).toEqual([
        ['raw.a', 'succeeded', 7],
        ['raw.a2', 'succeeded', null],
      ]);
      expect(await ledger.assetStates('raw.a2')).toHaveLength(1);
      expect((await ledger.assetSummaries()).filter((a) => a.name.startsWith('raw.'))).toEqual([
        { name: 'raw.a', partitions: 1, state: 'succeeded', updatedAt: at(1), lastSuccessAt: at(1) },
        { name: 'raw.a2', partitions: 1, state: 'succeeded', updatedAt: at(1), lastSuccessAt: at(1) },
      ]);
      const d = byTask(await claimAll(ledger, at(5_002), run.id), 'd');
      await ledger.fail(d, 'w1', { ...failure('flaky again'), assets: ['raw.d'] }, at(5_003));
      expect((await ledger.assetStates('raw.d'))[0]).toMatchObject({ status: 'dead', lastSuccessAt: null });
      // Materialisations: newest first, in the jobs' words, with the run, job and attempt.
      const mats = await ledger.assetMaterializations('raw.a', { limit: 10 });
      expect(mats).toEqual([
        {
          asset: 'raw.a',
          partitionKey: '__default__',
          status: 'succeeded',
          rows: 7,
          bytes: null,
          codeVersion: expect.any(String) as unknown,
          runId: run.id,
          jobId: byTask(claimed, 'a').id,
          attempt: 1,
          task: 'a',
          startedAt: T0,
          finishedAt: at(1),
        },
      ]);
      expect((await ledger.assetMaterializations('raw.d', { limit: 10 })).map((m) => [m.status, m.attempt])).toEqual([['failed', 2]]);
      expect(await ledger.assetMaterializations('raw.a', { limit: 10, partitionKey: 'other' })).toEqual([]);
      expect((await ledger.assetActivity(T0)).filter((a) => a.name.startsWith('raw.'))).toEqual([
        { name: 'raw.a', succeeded: 1, failed: 0 },
        { name: 'raw.a2', succeeded: 1, failed: 0 },
        { name: 'raw.d', succeeded: 0, failed: 1 },
      ]);
      expect((await ledger.assetActivity(at(5_004))).filter((a) => a.name.startsWith('raw.'))).toEqual([]);
      // The latest per asset by key; the partitions changed since a time; what is in flight.
      expect(
        (await ledger.latestMaterializations()).filter((l) => l.asset.startsWith('raw.')).map((l) => [l.asset, l.state, l.lastSuccessAt]),
      ).toEqual([
        ['raw.a', 'succeeded', at(1)],
        ['raw.a2', 'succeeded', at(1)],
        ['raw.d', 'dead', null],
      ]);
      expect(await ledger.latestMaterializations('raw.a')).toEqual([
        {
          asset: 'raw.a',
          partitionKey: '__default__',
          state: 'succeeded',
          at: at(1),
          lastSuccessAt: at(1),
          runId: run.id,
          jobId: byTask(claimed, 'a').id,
          rows: 7,
          codeVersion: success.codeVersion,
        },
      ]);
      expect(await ledger.partitionChanges('raw.d', T0)).toEqual([{ partitionKey: '__default__', status: 'dead', at: at(5_003) }]);
      expect(await ledger.partitionChanges('raw.a', at(2))).toEqual([]);
      expect((await ledger.assetMaterializations('raw.a', { limit: 5, since: at(2) })).length).toBe(0);
      expect(await ledger.inFlightPartitions('b')).toEqual(['__default__']);
      expect(await ledger.inFlightPartitions('a')).toEqual([]);
      // Per task at once (what one automation tick reads): only tasks with a job in flight.
      const counts = await ledger.inFlightCounts();
      expect(counts.get('b')).toBe(1);
      expect(counts.has('a')).toBe(false);
      // Check results, kept as given and read newest first.
      const check = {
        asset: 'raw.a',
        partitionKey: '__default__',
        check: 'rows',
        passed: false,
        severity: 'error' as const,
        value: "it's 0",
        expected: 'gt 0',
        error: 'expected gt 0, got 0',
        runId: run.id,
        jobId: null,
        checkedAt: at(6),
      };
      await ledger.recordCheckResults([check, { ...check, check: 'later', passed: true, error: null, value: null, checkedAt: at(7) }]);
      expect(await ledger.checkHistory('raw.a', 10)).toEqual([
        { ...check, check: 'later', passed: true, error: null, value: null, checkedAt: at(7) },
        check,
      ]);
      expect(await ledger.checkHistory('raw.a', 1)).toHaveLength(1);
      const failures = await ledger.failures(T0, 10);
      expect(failures.find((f) => f.task === 'd')).toMatchObject({ failures: 2, lastError: 'flaky again' });
      expect(await ledger.failures(T0, 10, ['a', 'b'])).toEqual([]);
      const jobs = await ledger.listJobs({ runId: run.id, limit: 10 });
      expect(jobs).toHaveLength(4);
      expect(await ledger.listJobs({ runId: run.id, task: 'a', limit: 10 })).toHaveLength(1);
      expect((await ledger.listJobs({ runId: run.id, states: ['dead'], limit: 10 })).map((j) => j.task)).toEqual(['d']);
      expect((await ledger.findRuns(run.id.slice(0, 8), 5)).map((r) => r.id)).toContain(run.id);
      expect((await ledger.listRuns(1))[0]!.id).toBe(run.id);
    });

    withLedger('records snapshots of DAGs, activates one per DAG name, and says when nothing changed', async (ledger) => {
      const v1 = snapshotOf(['a', 'b'], { b: ['a'] });
      const v2 = snapshotOf(['a', 'b', 'c'], { b: ['a'] });
      await ledger.saveSnapshot(v1);
      await ledger.saveSnapshot(v2);
      const entry = (id: string, dag = 'etl') => ({ dag, snapshotId: id, module: '/code/etl.ts', exportName: 'etl' });
      expect(await ledger.dagSnapshots()).toEqual([]);
      expect(await ledger.recordDagSnapshot(entry(v1.id), true, at(1))).toEqual({ recorded: true, activated: true });
      expect(await ledger.recordDagSnapshot(entry(v1.id), true, at(2))).toEqual({ recorded: false, activated: false });
      expect(await ledger.recordDagSnapshot(entry(v2.id), false, at(3))).toEqual({ recorded: true, activated: false });
      expect(await ledger.recordDagSnapshot(entry(v1.id, 'other'), true, at(4))).toEqual({ recorded: true, activated: true });
      const all = await ledger.dagSnapshots();
      expect(all.map((d) => [d.dag, d.snapshotId, d.active, d.taskCount])).toEqual([
        ['other', v1.id, true, 2],
        ['etl', v2.id, false, 3],
        ['etl', v1.id, true, 2],
      ]);
      expect(all[1]).toMatchObject({ module: '/code/etl.ts', exportName: 'etl', createdAt: at(3) });
      expect((await ledger.dagSnapshots({ dag: 'etl', activeOnly: true })).map((d) => d.snapshotId)).toEqual([v1.id]);
      // Activating another snapshot of the DAG moves its active mark; the other DAG keeps its own.
      expect(await ledger.recordDagSnapshot({ ...entry(v2.id), module: '/moved/etl.ts' }, true, at(5))).toEqual({
        recorded: false,
        activated: true,
      });
      expect((await ledger.dagSnapshots({ activeOnly: true })).map((d) => [d.dag, d.snapshotId, d.module])).toEqual([
        ['other', v1.id, '/code/etl.ts'],
        ['etl', v2.id, '/moved/etl.ts'],
      ]);
    });

    withLedger('runs of a DAG keep their metadata; claims, reads and retries keep to a DAG; a run id is taken once', async (ledger) => {
      const snapshot = snapshotOf(['x']);
      await ledger.saveSnapshot(snapshot);
      const ids = ['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000a3'];
      const enqueue = (id: string, dag: string | null, metadata?: Record<string, JsonValue>) =>
        ledger.enqueueRun(
          {
            id,
            snapshotId: snapshot.id,
            trigger: 'test',
            selector: null,
            inputs: null,
            jobs: [{ task: 'x', upstream: [], maxAttempts: 1 }],
            dag,
            ...(metadata ? { metadata } : {}),
          },
          T0,
        );
      expect(await enqueue(ids[0]!, 'etl', { source: 'nightly', n: 2 })).toMatchObject({
        dag: 'etl',
        metadata: { source: 'nightly', n: 2 },
      });
      expect(await enqueue(ids[1]!, 'other')).toMatchObject({ dag: 'other', metadata: {} });
      expect(await enqueue(ids[2]!, null)).toMatchObject({ dag: null });
      await expect(enqueue(ids[0]!, 'etl')).rejects.toMatchObject({ code: 'DUPLICATE_RUN' });
      expect((await ledger.getRun(ids[0]!))!.metadata).toEqual({ source: 'nightly', n: 2 });
      expect((await ledger.listRuns(10)).find((r) => r.id === ids[1])).toMatchObject({ dag: 'other' });
      expect(await ledger.queueDepth({ dag: 'etl' })).toEqual({ pending: 1 });
      expect(await ledger.nextDue({ dag: 'nope' })).toBeUndefined();
      expect(await ledger.nextDue({ dag: 'other' })).toEqual(T0);
      // Same task name in every run: the DAG, not the task, tells whose job it is.
      const etl = await ledger.claim({ worker: 'w1', limit: 10, leaseMs: LEASE, now: at(1), dag: 'etl' });
      expect(etl.map((j) => j.runId)).toEqual([ids[0]]);
      const none = await ledger.claim({ worker: 'w1', limit: 10, leaseMs: LEASE, now: at(1), dag: null });
      expect(none.map((j) => j.runId)).toEqual([ids[2]]);
      expect((await ledger.listJobs({ limit: 10, dag: 'other' })).map((j) => j.runId)).toEqual([ids[1]]);
      await ledger.fail(etl[0]!, 'w1', failure('boom'), at(2));
      await ledger.fail(none[0]!, 'w1', failure('boom'), at(2));
      expect(await ledger.retryJobs({ states: ['dead'], dag: 'other' }, at(3))).toEqual([]);
      expect(await ledger.retryJobs({ states: ['dead'], dag: 'etl', minAttempts: 2 }, at(3))).toEqual([]);
      expect(await ledger.retryJobs({ states: ['dead'], dag: 'etl', minAttempts: 1, dryRun: true }, at(3))).toMatchObject([
        { runId: ids[0] },
      ]);
      expect(await ledger.retryJobs({ states: ['dead'], dag: 'etl', minAttempts: 1 }, at(3))).toMatchObject([{ runId: ids[0] }]);
      expect(await ledger.queueDepth({ dag: 'etl' })).toEqual({ pending: 1 });
      expect(await ledger.queueDepth()).toMatchObject({ pending: 2, dead: 1 });
    });
  });
}
