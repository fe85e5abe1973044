import { Effect } from "effect"
import { asBuffer, type NotificationBytes } from "../../pipeline/Notification.js"
import { StoreRefused, StoreUnavailable } from "../Outbox.js"
import type { Database } from "./Database.js"
import { ACCEPT, SEEN } from "./Statements.js"

type Accepted = "accepted" | "duplicate"

interface Pending {
  readonly notification: NotificationBytes
  readonly sinks: ReadonlyArray<string>
  readonly done: (result: Effect.Effect<Accepted, StoreUnavailable | StoreRefused>) => void
}

interface Reading {
  readonly id: string
  readonly done: (result: Effect.Effect<boolean, StoreUnavailable>) => void
}

const MAX_BATCH = 512
/** Accept statements in flight at once: more batches overlap round trips, fewer make bigger batches. */
const MAX_IN_FLIGHT = 2

/**
 * The request path's two statements, each shared by the requests that need it at the same moment: accepts (the
 * dedupe id claimed and the deliveries queued, one commit for the batch) and dedupe reads. Plain callbacks rather
 * than fibers and queues: this runs for every request. `onQueued` hears of the deliveries each commit queued.
 */
export const make = (db: Database, windowMs: number, onQueued: (sinks: ReadonlyArray<string>) => void) =>
  Effect.gen(function*() {
    // Accepts arriving while `MAX_IN_FLIGHT` statements are under way wait and go together in the next one.
    const waiting: Array<Pending> = []
    let inFlight = 0
    let scheduled = false
    let closed = false
    const flush = (): void => {
      while (inFlight < MAX_IN_FLIGHT && waiting.length > 0) send(waiting.splice(0, MAX_BATCH))
    }
    const send = (batch: ReadonlyArray<Pending>) => {
      const now = Date.now()
      // An id twice in one batch is new once: the later copy is a duplicate before the database sees it.
      const ids = new Set<string>()
      const twice = new Set<Pending>()
      // The outbox rows, one array per column.
      const columns = {
        sink: [] as Array<string>,
        key: [] as Array<string>,
        id: [] as Array<string | null>,
        topic: [] as Array<string | null>,
        intercomTopic: [] as Array<string>,
        appId: [] as Array<string | null>,
        receivedAt: [] as Array<number>,
        body: [] as Array<Buffer>
      }
      for (const pending of batch) {
        const { notification } = pending
        if (notification.id !== null) {
          if (ids.has(notification.id)) {
            twice.add(pending)
            continue
          }
          ids.add(notification.id)
        }
        const buffer = asBuffer(notification.body)
        for (const sink of pending.sinks) {
          columns.sink.push(sink)
          columns.key.push(notification.deliveryKey)
          columns.id.push(notification.id)
          columns.topic.push(notification.topic)
          columns.intercomTopic.push(notification.intercomTopic)
          columns.appId.push(notification.appId)
          columns.receivedAt.push(notification.receivedAt.getTime())
          columns.body.push(buffer)
        }
      }
      inFlight++
      db.unsafeQuery(
        ACCEPT,
        [
          now,
          [...ids],
          now - windowMs,
          columns.sink,
          columns.id,
          columns.topic,
          columns.intercomTopic,
          columns.appId,
          columns.receivedAt,
          columns.body,
          columns.key
        ],
        (error, claimed) => {
          inFlight--
          if (error !== undefined && error.refusesValues && batch.length > 1) {
            // One notification's values failed the batch: each goes again alone, so only its own request fails.
            for (const pending of batch) send([pending])
          } else if (error !== undefined) {
            const refused = error.refusesValues
              ? new StoreRefused({ message: `a value the store cannot keep (SQLSTATE ${error.code})` })
              : error
            for (const pending of batch) pending.done(Effect.fail(refused))
          } else {
            const taken = new Set(claimed.map((row) => row.notification_id as string))
            const queued: Array<string> = []
            for (const pending of batch) {
              const id = pending.notification.id
              const accepted = !twice.has(pending) && (id === null || taken.has(id))
              if (accepted) queued.push(...pending.sinks)
              pending.done(Effect.succeed(accepted ? "accepted" : "duplicate"))
            }
            onQueued(queued)
          }
          flush()
        }
      )
    }
    const schedule = () => {
      if (scheduled) return
      scheduled = true
      setImmediate(() => {
        scheduled = false
        flush()
      })
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closed = true
        flush()
        while (inFlight > 0 || waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, 5))
      })
    )

    const accept = (notification: NotificationBytes, sinks: ReadonlyArray<string>) =>
      Effect.async<Accepted, StoreUnavailable | StoreRefused>((resume) => {
        if (closed) return resume(Effect.fail(new StoreUnavailable({ message: "the store is closed" })))
        waiting.push({ notification, sinks, done: resume })
        schedule()
      })

    // Dedupe reads arriving in the same turn of the event loop share one statement.
    const reading: Array<Reading> = []
    const read = () => {
      const batch = reading.splice(0)
      db.unsafeQuery(SEEN, [batch.map((pending) => pending.id), Date.now() - windowMs], (error, found) => {
        const ids = new Set(found.map((row) => row.notification_id as string))
        for (const pending of batch) {
          pending.done(error === undefined ? Effect.succeed(ids.has(pending.id)) : Effect.fail(error))
        }
      })
    }
    const seen = (id: string) =>
      Effect.async<boolean, StoreUnavailable>((resume) => {
        if (reading.push({ id, done: resume }) === 1) setImmediate(read)
      })
    return { accept, seen }
  })
