/**
 * Intercom's rate limit as its headers show it: a number of calls per fixed window, `X-RateLimit-Limit`,
 * `X-RateLimit-Remaining` and `X-RateLimit-Reset` (unix seconds when the window ends) on every answer, 429 once the
 * window's calls are spent. Windows are aligned to multiples of `windowSeconds` of the wall clock.
 */

export interface RateLimit {
  readonly limit: number
  readonly windowSeconds: number
}

export interface RateLimitDecision {
  readonly allowed: boolean
  readonly headers: Readonly<Record<string, string>>
}

export class RateLimiter {
  private windowStart = 0
  private used = 0

  constructor(private setting: RateLimit, private readonly nowMillis: () => number = Date.now) {}

  configure(setting: RateLimit) {
    this.setting = setting
    this.windowStart = 0
    this.used = 0
  }

  take(): RateLimitDecision {
    const { limit, windowSeconds } = this.setting
    const now = this.nowMillis() / 1000
    const start = Math.floor(now / windowSeconds) * windowSeconds
    if (start !== this.windowStart) {
      this.windowStart = start
      this.used = 0
    }
    const allowed = this.used < limit
    if (allowed) this.used += 1
    return {
      allowed,
      headers: {
        "X-RateLimit-Limit": String(limit),
        "X-RateLimit-Remaining": String(limit - this.used),
        "X-RateLimit-Reset": String(start + windowSeconds)
      }
    }
  }
}
