import { Counter, Gauge, type Registry } from "prom-client"

const PREFIX = "intercom_webhook_reconcile_"

/** Gap recovery's metrics, in the service's registry. */
export const make = (registry: Registry) => {
  const registers = [registry]
  return {
    rows: new Counter({
      name: `${PREFIX}rows_total`,
      help: "Mirror rows a sweep changed (applied) or found already as new (unchanged), by table",
      labelNames: ["table", "outcome"],
      registers
    }),
    pages: new Counter({
      name: `${PREFIX}pages_total`,
      help:
        "Pages read from Intercom's REST API, by resource (contacts, conversations: searches; listing: GET /contacts)",
      labelNames: ["resource"],
      registers
    }),
    rateLimitWaits: new Counter({
      name: `${PREFIX}rate_limit_waits_total`,
      help: "Waits for Intercom's rate limit: after a 429, or before a call when the window's calls are spent",
      labelNames: ["reason"],
      registers
    }),
    rateLimitSeconds: new Counter({
      name: `${PREFIX}rate_limit_wait_seconds_total`,
      help: "Seconds spent waiting for Intercom's rate limit",
      registers
    }),
    sweeps: new Counter({
      name: `${PREFIX}sweeps_total`,
      help: "Sweeps by outcome: done, paused (RECONCILE_BUDGET spent; resumes), failed (retried; logged at ERROR)",
      labelNames: ["workspace", "outcome"],
      registers
    }),
    refused: new Counter({
      name: `${PREFIX}refused_total`,
      help: "Objects read from Intercom the mirror could not take (each logged)",
      registers
    }),
    watermark: new Gauge({
      name: `${PREFIX}watermark_seconds`,
      help: "Unix time up to which the workspace's changes are reconciled",
      labelNames: ["workspace"],
      registers
    }),
    gaps: new Counter({
      name: `${PREFIX}gaps_total`,
      help: "Gaps found: times longer than RECONCILE_GAP when no instance was alive",
      registers
    }),
    beatFailures: new Counter({
      name: `${PREFIX}beat_failures_total`,
      help: "Signs of life this instance could not record (logged at WARN): while they fail, the others count it gone",
      registers
    })
  }
}

export type ReconcileMetrics = ReturnType<typeof make>
