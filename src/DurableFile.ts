import { Data, Deferred, Effect, Queue, Ref, type Scope } from "effect"
import { type FileHandle, mkdir, open } from "node:fs/promises"
import { dirname } from "node:path"

export class FileWriteError extends Data.TaggedError("FileWriteError")<{
  readonly path: string
  readonly message: string
}> {}

/** An append-only file whose `append` returns once the bytes are on disk (fdatasync). */
export interface DurableFile {
  readonly path: string
  readonly append: (bytes: Uint8Array) => Effect.Effect<void, FileWriteError>
  /** False after a failed write, until a write succeeds again. */
  readonly healthy: Effect.Effect<boolean>
}

interface Pending {
  readonly bytes: Uint8Array
  readonly done: Deferred.Deferred<void, FileWriteError>
}

/**
 * Cuts off a last line without its newline: a process killed while writing leaves one, never acknowledged (an
 * append is acknowledged after its whole batch is written and synced). Returns the size that remains.
 */
const wholeLines = async (handle: FileHandle): Promise<number> => {
  const { size } = await handle.stat()
  const chunk = Buffer.alloc(64 * 1024)
  let end = size
  while (end > 0) {
    const start = Math.max(0, end - chunk.length)
    const { bytesRead } = await handle.read(chunk, 0, end - start, start)
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a)
    if (newline !== -1) {
      end = start + newline + 1
      break
    }
    end = start
  }
  if (end < size) await handle.truncate(end)
  return end
}

/** Largest number of appends that share one write and one sync. */
const MAX_BATCH = 4096

/**
 * Opens `path` for appending, creating parent folders. Appends waiting at the same time are group-committed: one
 * write and one fdatasync for the whole batch. A failed batch is cut off again, so the file never keeps half a batch.
 */
export const make = (path: string): Effect.Effect<DurableFile, FileWriteError, Scope.Scope> =>
  Effect.gen(function*() {
    const fail = (error: unknown) =>
      new FileWriteError({ path, message: error instanceof Error ? error.message : String(error) })
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          await mkdir(dirname(path), { recursive: true })
          return open(path, "a+")
        },
        catch: fail
      }),
      (handle) => Effect.promise(() => handle.close())
    )
    let size = yield* Effect.tryPromise({ try: () => wholeLines(handle), catch: fail })
    const queue = yield* Effect.acquireRelease(Queue.bounded<Pending>(MAX_BATCH * 4), Queue.shutdown)
    const healthy = yield* Ref.make(true)

    const commit = async (batch: ReadonlyArray<Pending>) => {
      const data = Buffer.concat(batch.map((pending) => pending.bytes))
      try {
        let written = 0
        while (written < data.length) {
          written += (await handle.write(data, written, data.length - written, size + written)).bytesWritten
        }
        await handle.datasync()
        size += data.length
      } catch (error) {
        await handle.truncate(size).catch(() => undefined)
        throw error
      }
    }

    yield* Queue.takeBetween(queue, 1, MAX_BATCH).pipe(
      Effect.flatMap((batch) =>
        Effect.tryPromise({ try: () => commit([...batch]), catch: fail }).pipe(
          Effect.exit,
          Effect.tap((exit) => Ref.set(healthy, exit._tag === "Success")),
          Effect.flatMap((exit) => Effect.forEach(batch, (pending) => Deferred.done(pending.done, exit))),
          Effect.uninterruptible
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )

    return {
      path,
      healthy: Ref.get(healthy),
      append: (bytes) =>
        Effect.flatMap(Deferred.make<void, FileWriteError>(), (done) =>
          Queue.offer(queue, { bytes, done }).pipe(Effect.zipRight(Deferred.await(done))))
    } satisfies DurableFile
  })
