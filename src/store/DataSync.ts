import { Context } from "effect"
import type { FileHandle } from "node:fs/promises"

/**
 * How written bytes reach the disk: fdatasync, on the file sink, the dead letters and the store's WAL. A reference
 * with the real call as its default, so that a test can provide one that fails or holds the sync, and show that no
 * answer says 200 before a sync completed.
 */
export class DataSync extends Context.Reference<DataSync>()("DataSync", {
  defaultValue: () => (_path: string, handle: FileHandle): Promise<void> => handle.datasync()
}) {}
