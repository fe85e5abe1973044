/** What the rate limit made a client wait: once per wait, its length in seconds and why. */
export type OnWait = (seconds: number, reason: "429" | "exhausted") => void

/** The longest single wait: Intercom's limits reset within a minute. */
const MAX_WAIT_MS = 60_000
/** A 429 without a usable reset time waits this long. */
const FALLBACK_WAIT_MS = 1_000

const sleep = (ms: number, signal: AbortSignal | null | undefined) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort)
      resolve()
    }, ms)
    const abort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener("abort", abort, { once: true })
  })

const clamp = (ms: number) => Math.min(MAX_WAIT_MS, Math.max(50, ms))

/** How long a 429 asks to wait: `Retry-After` (seconds), else until `X-RateLimit-Reset` (unix seconds). */
const waitOf = (headers: Headers, now: number): number => {
  const retryAfter = Number(headers.get("retry-after"))
  if (headers.has("retry-after") && Number.isFinite(retryAfter) && retryAfter >= 0) return clamp(retryAfter * 1000)
  const reset = Number(headers.get("x-ratelimit-reset"))
  if (headers.has("x-ratelimit-reset") && Number.isFinite(reset) && reset > 0) return clamp(reset * 1000 - now)
  return FALLBACK_WAIT_MS
}

/**
 * A `fetch` that keeps within Intercom's rate limit (`X-RateLimit-Remaining` and `-Reset` on every answer): when a
 * window's calls are spent it waits for the reset before the next call, and a 429 is waited out and sent again, as
 * often as it takes; the caller's abort signal ends a wait. The only place the client waits for the limit, so the SDK
 * runs with `maxRetries: 0` and every wait is counted.
 */
export const rateLimitedFetch = (base: typeof fetch, onWait: OnWait): typeof fetch => {
  let spentUntil = 0
  return async (input, init) => {
    while (true) {
      const early = spentUntil - Date.now()
      if (early > 0) {
        onWait(early / 1000, "exhausted")
        await sleep(clamp(early), init?.signal)
      }
      const response = await base(input, init)
      const remaining = response.headers.get("x-ratelimit-remaining")
      const reset = Number(response.headers.get("x-ratelimit-reset"))
      if (remaining === "0" && Number.isFinite(reset)) spentUntil = Math.max(spentUntil, reset * 1000)
      if (response.status !== 429) return response
      await response.arrayBuffer().catch(() => undefined)
      const wait = waitOf(response.headers, Date.now())
      onWait(wait / 1000, "429")
      await sleep(wait, init?.signal)
    }
  }
}
