/** Keys hash into this many buckets (PostgreSQL computes a row's bucket); instances lease them per sink. */
export const BUCKETS = 64

/**
 * The part of a sink's deliveries this process may make: the buckets it leases (every bucket when it owns the store
 * or delivers in strict receive order), and which of them have deliveries handed out and not yet recorded, so that a
 * bucket is given up only once its deliveries in flight are done. The worker and the lease keeper share it.
 */
export class DeliveryShare {
  private readonly inFlight = new Map<number, number>()
  private listener: () => void = () => undefined

  private constructor(private readonly leased: Set<number> | undefined) {}

  /** Every bucket, for good. */
  static all(): DeliveryShare {
    return new DeliveryShare(undefined)
  }

  /** The buckets `take` adds and `drop` removes. */
  static leasing(): DeliveryShare {
    return new DeliveryShare(new Set())
  }

  /** Buckets whose deliveries may be handed out; undefined: all of them. */
  get buckets(): ReadonlyArray<number> | undefined {
    return this.leased === undefined ? undefined : [...this.leased]
  }

  /** False while this process leases no bucket: nothing to hand out. */
  get any(): boolean {
    return this.leased === undefined || this.leased.size > 0
  }

  allows(bucket: number): boolean {
    return this.leased === undefined || this.leased.has(bucket)
  }

  take(bucket: number): void {
    this.leased?.add(bucket)
    this.listener()
  }

  /** `listener` hears of every bucket taken (the worker looks for their deliveries at once). */
  onTake(listener: () => void): void {
    this.listener = listener
  }

  /** No more of the bucket's deliveries are handed out; those in flight finish (see `busy`). */
  drop(bucket: number): void {
    this.leased?.delete(bucket)
  }

  /** A key of `bucket` was handed out. */
  enter(bucket: number): void {
    this.inFlight.set(bucket, (this.inFlight.get(bucket) ?? 0) + 1)
  }

  /** A key of `bucket` was released: its deliveries are recorded. */
  leave(bucket: number): void {
    const left = (this.inFlight.get(bucket) ?? 1) - 1
    if (left === 0) this.inFlight.delete(bucket)
    else this.inFlight.set(bucket, left)
  }

  busy(bucket: number): boolean {
    return this.inFlight.has(bucket)
  }
}
