/**
 * Who is in the cluster. A worker is a member from its Hello until its stream closes or it
 * misses heartbeats for `heartbeatTimeoutMs`. Time comes from the caller (`nowMs`), so the
 * rules are tested without sleeping.
 */
import { IllegalStateError } from '../common/errors.ts';

export interface MemberInfo {
  id: string;
  endpoint: string;
  pid: number;
  capacity: number;
  joinedAtMs: number;
  lastHeartbeatMs: number;
}

export class Membership {
  private readonly members = new Map<string, MemberInfo>();

  constructor(private readonly heartbeatTimeoutMs: number) {}

  join(info: Omit<MemberInfo, 'joinedAtMs' | 'lastHeartbeatMs'>, nowMs: number): void {
    if (this.members.has(info.id)) throw new IllegalStateError(`worker ${info.id} joined twice`);
    this.members.set(info.id, { ...info, joinedAtMs: nowMs, lastHeartbeatMs: nowMs });
  }

  /** Records a sign of life; false if the worker is not (or no longer) a member. */
  heartbeat(id: string, nowMs: number): boolean {
    const member = this.members.get(id);
    if (member === undefined) return false;
    member.lastHeartbeatMs = nowMs;
    return true;
  }

  /** Removes a member; false if it was not one. */
  leave(id: string): boolean {
    return this.members.delete(id);
  }

  /** Members silent for longer than the timeout (the caller removes them). */
  expired(nowMs: number): string[] {
    return [...this.members.values()].filter((m) => nowMs - m.lastHeartbeatMs > this.heartbeatTimeoutMs).map((m) => m.id);
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  get(id: string): MemberInfo | undefined {
    return this.members.get(id);
  }

  /** Member ids in join order (assignment is deterministic for the same history). */
  ids(): string[] {
    return [...this.members.values()].sort((a, b) => a.joinedAtMs - b.joinedAtMs || (a.id < b.id ? -1 : 1)).map((m) => m.id);
  }

  list(): MemberInfo[] {
    return this.ids().map((id) => this.members.get(id) as MemberInfo);
  }
}
