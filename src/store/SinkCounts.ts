/** Deliveries waiting in an outbox per sink, kept up to date in memory as rows are queued and removed. */
export class SinkCounts {
  private readonly counts = new Map<string, number>()
  private sum = 0

  get total(): number {
    return this.sum
  }

  /** Starts over from counted rows. */
  reset(counted: Iterable<{ readonly sink: string; readonly count: number }>): void {
    this.counts.clear()
    this.sum = 0
    for (const { count, sink } of counted) this.add(sink, count)
  }

  add(sink: string, n = 1): void {
    this.counts.set(sink, (this.counts.get(sink) ?? 0) + n)
    this.sum += n
  }

  /** Never below 0: rows another process queued are counted at the next `reset`. */
  remove(sink: string, n = 1): void {
    const current = this.counts.get(sink) ?? 0
    const left = Math.max(0, current - n)
    this.sum -= current - left
    if (left === 0) this.counts.delete(sink)
    else this.counts.set(sink, left)
  }

  entries(): ReadonlyArray<{ readonly sink: string; readonly count: number }> {
    return [...this.counts].map(([sink, count]) => ({ sink, count }))
  }
}
