import { Effect } from "effect"
import { createHash } from "node:crypto"
import { mkdir, readdir, rename, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"

const PERSONAL = /^(email|name|first_name|last_name|pseudonym|phone)$/i

/**
 * The capture's text: the payload indented, every personal field (email, names, phone) replaced unless `personal`.
 * `JSON.stringify` with a replacer, which costs a fraction of building a copy (nesting is bounded by `MAX_DEPTH`).
 */
export const captureText = (payload: unknown, personal: boolean): string =>
  JSON.stringify(
    payload,
    personal ?
      undefined :
      (key, field) => typeof field === "string" && PERSONAL.test(key) ? `redacted-${key.toLowerCase()}` : field,
    2
  ) + "\n"

/** Characters of the id kept in a file name; the content hash after it tells longer ones apart. */
const ID_CHARACTERS = 80

/**
 * `captured-<id>-<hash>.json`, or `captured-<hash>.json` without an id: the id percent-encoded (letters, digits, `.`,
 * `_` and `-` as they are, any other byte `%XX`, `%` itself included), so that `a/b` and `a_b` differ and no id names
 * a path, and the first 16 hex digits of the body's SHA-256, so that two notifications never share a file.
 */
export const captureName = (id: string | null, body: Uint8Array): string => {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 16)
  if (id === null) return `captured-${hash}.json`
  let encoded = ""
  for (const byte of Buffer.from(id, "utf8")) {
    encoded += /[\w.-]/.test(String.fromCharCode(byte)) && byte < 0x80
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }
  return `captured-${encoded.slice(0, ID_CHARACTERS)}-${hash}.json`
}

export interface Usage {
  readonly files: number
  readonly bytes: number
}

/** Files under `dir` and their bytes, whatever wrote them; nothing when it does not exist yet. */
export const usageOf = (dir: string) =>
  Effect.tryPromise(async (): Promise<Usage> => {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((error) =>
      error?.code === "ENOENT" ? [] : Promise.reject(error)
    )
    let files = 0
    let bytes = 0
    for (const entry of entries) {
      if (!entry.isFile()) continue
      files++
      bytes += await stat(join(entry.parentPath, entry.name)).then((found) => found.size, () => 0)
    }
    return { files, bytes }
  })

/** Saves `text` as `<dir>/<topic>/<name>`, written aside and renamed: a capture is never seen half-written. */
export const saveCapture = (dir: string, topic: string, name: string, text: string) =>
  Effect.tryPromise(async () => {
    const folder = join(dir, topic)
    const file = join(folder, name)
    await mkdir(folder, { recursive: true })
    await writeFile(`${file}.partial`, text)
    await rename(`${file}.partial`, file)
    return file
  })

/** While the folder is full, how often it is counted again: moving a reviewed capture away makes room. */
const RECOUNT_MS = 60_000

/**
 * The capture folder within `maxFiles` and `maxBytes`: counted when first needed (the files already there count),
 * then kept up to date by each save.
 */
export const captureFolder = (dir: string, maxFiles: number, maxBytes: number) => {
  let usage: Usage | undefined
  let countedAt = 0
  let full = false
  return {
    /** Whether one more file of `size` bytes fits. */
    room: (size: number) =>
      Effect.gen(function*() {
        if (usage === undefined || (full && Date.now() - countedAt >= RECOUNT_MS)) {
          usage = yield* usageOf(dir)
          countedAt = Date.now()
        }
        full = usage.files + 1 > maxFiles || usage.bytes + size > maxBytes
        return { fits: !full, usage }
      }),
    save: (topic: string, name: string, text: string) =>
      Effect.tap(saveCapture(dir, topic, name, text), () => {
        const before = usage ?? { files: 0, bytes: 0 }
        usage = { files: before.files + 1, bytes: before.bytes + Buffer.byteLength(text) }
      })
  }
}
