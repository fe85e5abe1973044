import { Data, Effect, type Scope } from "effect"
import { type FileHandle, mkdir, open } from "node:fs/promises"
import { dirname } from "node:path"
import { DataSync } from "../store/DataSync.js"

export class FileWriteError extends Data.TaggedError("FileWriteError")<{
  readonly path: string
  readonly message: string
}> {}

/** An append-only file whose `append` returns once the bytes are on disk (fdatasync). */
export interface DurableFile {
  readonly path: string
  /** Appends `bytes`, or the parts of one record in order (written without joining them first). */
  readonly append: (bytes: Uint8Array | ReadonlyArray<Uint8Array>) => Effect.Effect<void, FileWriteError>
  /** False after a failed write, until a write succeeds again. */
  readonly healthy: Effect.Effect<boolean>
}

interface Pending {
  readonly parts: ReadonlyArray<Uint8Array>
  readonly done: (error: FileWriteError | undefined) => void
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

/** What remains of `buffers` after their first `offset` bytes. */
const after = (buffers: ReadonlyArray<Uint8Array>, offset: number): Array<Uint8Array> => {
  const rest: Array<Uint8Array> = []
  let skipped = 0
  for (const buffer of buffers) {
    if (skipped + buffer.byteLength <= offset) skipped += buffer.byteLength
    else {
      rest.push(skipped >= offset ? buffer : buffer.subarray(offset - skipped))
      skipped = Math.max(skipped, offset)
    }
  }
  return rest
}

/** Largest number of appends that share one write and one sync. */
const MAX_BATCH = 4096

/**
 * Opens `path` for appending, creating parent folders. Appends waiting at the same time are group-committed: one
 * write and one fdatasync for the whole batch. A failed batch is cut off again, so the file never keeps half a batch.
 * The batching is plain Node callbacks behind one `Effect.async` per append: a worker fiber with a queue and a
 * deferred per append cost more CPU than the write itself.
 */
export const make = (path: string): Effect.Effect<DurableFile, FileWriteError, Scope.Scope> =>
  Effect.gen(function*() {
    const datasync = yield* DataSync
    const fail = (error: unknown) =>
      new FileWriteError({ path, message: error instanceof Error ? error.message : String(error) })
    const waiting: Array<Pending> = []
    let writing: Promise<void> | undefined
    let closed = false
    let healthy = true
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          await mkdir(dirname(path), { recursive: true })
          return open(path, "a+")
        },
        catch: fail
      }),
      (handle) =>
        Effect.promise(async () => {
          closed = true
          while (writing !== undefined) await writing
          await handle.close()
        })
    )
    let size = yield* Effect.tryPromise({ try: () => wholeLines(handle), catch: fail })

    // One gathering write (writev) for the batch: a record's parts and the batch are not copied into one buffer first,
    // which for large notifications held each body twice more while it was written.
    const commit = async (batch: ReadonlyArray<Pending>) => {
      const parts = batch.flatMap((pending) => pending.parts)
      const length = parts.reduce((sum, part) => sum + part.byteLength, 0)
      try {
        let written = 0
        while (written < length) {
          written += (await handle.writev(written === 0 ? parts : after(parts, written), size + written)).bytesWritten
        }
        await datasync(path, handle)
        size += length
        healthy = true
        return undefined
      } catch (error) {
        await handle.truncate(size).catch(() => undefined)
        healthy = false
        return fail(error)
      }
    }

    const flush = () => {
      if (writing !== undefined || waiting.length === 0) return
      const batch = waiting.splice(0, MAX_BATCH)
      writing = commit(batch).then((error) => {
        writing = undefined
        for (const pending of batch) pending.done(error)
        flush()
      })
    }

    return {
      path,
      healthy: Effect.sync(() => healthy),
      append: (bytes) =>
        Effect.async<void, FileWriteError>((resume) => {
          if (closed) return resume(Effect.fail(fail("the file is closed")))
          waiting.push({
            parts: bytes instanceof Uint8Array ? [bytes] : bytes,
            done: (error) => resume(error === undefined ? Effect.void : Effect.fail(error))
          })
          flush()
        })
    } satisfies DurableFile
  })
