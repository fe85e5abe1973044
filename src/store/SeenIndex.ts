/**
 * Where the SQLite store may have recorded a notification id: a 32-bit hash of each id claimed within the dedupe
 * window, mapped to the `seq` of its row in the store's append-only `seen_log`. A hash matches any id that shares it,
 * and an entry can outlive its row (a claim rolled back, a row pruned), so an answer is a list of rows to read, never
 * a verdict: the store compares the id and its time in each row. An id that matches no entry was not claimed in the
 * window, which is the answer for nearly every notification, found without reading the disk.
 *
 * Entries are grouped in generations by claim time, each an open-addressing table of typed arrays (8 bytes a slot, at
 * most three quarters full), and a generation is dropped whole once all its claims are older than the window.
 */
const MAX_LOAD = 0.75
const FIRST_CAPACITY = 1024
const MAX_OFFSET = 0xffff_ffff

class Generation {
  private tags = new Uint32Array(FIRST_CAPACITY)
  private offsets = new Uint32Array(FIRST_CAPACITY)
  private size = 0

  constructor(readonly from: number, readonly until: number, readonly base: number) {}

  holds(seq: number, at: number): boolean {
    return at >= this.from && at < this.until && seq >= this.base && seq - this.base <= MAX_OFFSET
  }

  add(tag: number, seq: number): void {
    if (this.size + 1 > this.tags.length * MAX_LOAD) this.grow()
    this.place(tag, seq - this.base)
    this.size++
  }

  collect(tag: number, into: Array<number>): void {
    const { offsets, tags } = this
    const mask = tags.length - 1
    for (let slot = tag & mask; tags[slot] !== 0; slot = (slot + 1) & mask) {
      if (tags[slot] === tag) into.push(this.base + offsets[slot]!)
    }
  }

  get bytes(): number {
    return this.tags.byteLength + this.offsets.byteLength
  }

  private place(tag: number, offset: number): void {
    const { offsets, tags } = this
    const mask = tags.length - 1
    let slot = tag & mask
    while (tags[slot] !== 0) slot = (slot + 1) & mask
    tags[slot] = tag
    offsets[slot] = offset
  }

  private grow(): void {
    const { offsets, tags } = this
    this.tags = new Uint32Array(tags.length * 2)
    this.offsets = new Uint32Array(tags.length * 2)
    for (let slot = 0; slot < tags.length; slot++) if (tags[slot] !== 0) this.place(tags[slot]!, offsets[slot]!)
  }
}

export class SeenIndex {
  private generations: Array<Generation> = []
  private readonly found: Array<number> = []
  /** Seeded per process, so that no one can choose ids that all land on one slot. */
  private readonly seed = (Math.random() * 0x1_0000_0000) >>> 0

  /** `span`: the claim times one generation covers, in ms (a fraction of the window). */
  constructor(private readonly span: number) {}

  /** FNV-1a over the id's UTF-16 units from a per-process seed, then murmur3's finaliser; never 0 (an empty slot). */
  private hash(id: string): number {
    let hash = this.seed ^ 0x811c9dc5
    for (let index = 0; index < id.length; index++) hash = Math.imul(hash ^ id.charCodeAt(index), 0x01000193)
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b)
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35)
    return (hash ^ (hash >>> 16)) >>> 0 || 1
  }

  /** Records that `id` was claimed at `at` in row `seq`. */
  add(id: string, seq: number, at: number): void {
    let generation = this.generations[this.generations.length - 1]
    if (generation === undefined || !generation.holds(seq, at)) {
      const from = Math.floor(at / this.span) * this.span
      generation = new Generation(from, from + this.span, seq)
      this.generations.push(generation)
    }
    generation.add(this.hash(id), seq)
  }

  /** The rows that may hold `id` (usually none); the array is reused by the next call. */
  rows(id: string): ReadonlyArray<number> {
    const tag = this.hash(id)
    this.found.length = 0
    for (const generation of this.generations) generation.collect(tag, this.found)
    return this.found
  }

  /** Drops the generations whose claims are all older than `oldest` (outside the window). */
  forget(oldest: number): void {
    this.generations = this.generations.filter((generation) => generation.until > oldest)
  }

  /** Memory held by the tables, in bytes. */
  get bytes(): number {
    return this.generations.reduce((sum, generation) => sum + generation.bytes, 0)
  }
}
