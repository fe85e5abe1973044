import type { ServerResponse } from "node:http"

interface Entry {
  readonly response: ServerResponse
  previous: Entry | undefined
  next: Entry | undefined
}

/**
 * The responses not yet closed, for draining: how many, and each one to mark `Connection: close`. A linked list whose
 * entries drop their links as they leave, rather than a `Set`, which kept finished responses alive through young
 * collections: see docs/performance.md#in-flight-responses-a-linked-list-not-a-set.
 */
export class InFlight {
  private first: Entry | undefined = undefined
  private count = 0

  get size(): number {
    return this.count
  }

  /** Tracks `response` until it closes. */
  add(response: ServerResponse): void {
    const entry: Entry = { response, previous: undefined, next: this.first }
    if (this.first !== undefined) this.first.previous = entry
    this.first = entry
    this.count++
    response.once("close", () => this.remove(entry))
  }

  forEach(f: (response: ServerResponse) => void): void {
    for (let entry = this.first; entry !== undefined; entry = entry.next) f(entry.response)
  }

  private remove(entry: Entry): void {
    if (entry.previous === undefined) this.first = entry.next
    else entry.previous.next = entry.next
    if (entry.next !== undefined) entry.next.previous = entry.previous
    entry.previous = undefined
    entry.next = undefined
    this.count--
  }
}
