import { Either, Option } from "effect"
import { sinkNames } from "../config/ReceiverConfig.js"
import { isoTime } from "../ops/IsoTime.js"
import { MAX_TOPIC_LENGTH } from "../pipeline/Notification.js"
import type { DeadLetterReason, ReplayFilter } from "../store/Outbox.js"

export const reasons: ReadonlyArray<DeadLetterReason> = [
  "schema_mismatch",
  "no_route",
  "rejected",
  "exhausted",
  "expired"
]

/** The sinks a replay may send to, as `npm run replay -- --sink` allows them. */
export const replaySinks: ReadonlyArray<string> = [...sinkNames, "handlers"]

/** The dead-letter page's filter as written in its query string (empty: any). */
export interface Filter {
  readonly sink: string
  readonly reason: string
  readonly topic: string
  readonly since: string
}

export const filterOf = (params: URLSearchParams): Filter => ({
  sink: (params.get("sink") ?? "").trim(),
  reason: (params.get("reason") ?? "").trim(),
  topic: (params.get("topic") ?? "").trim(),
  since: (params.get("since") ?? "").trim()
})

const optional = (text: string) => text === "" ? Option.none<string>() : Option.some(text)

/** The store's filter for `filter` (which has no reason: the listing filters reasons itself), or what is wrong. */
export const storeFilter = (filter: Filter): Either.Either<ReplayFilter, string> => {
  if (filter.reason !== "" && !reasons.includes(filter.reason as DeadLetterReason)) {
    return Either.left(`reason must be one of ${reasons.join(", ")}`)
  }
  const since = optional(filter.since)
  const sinceDate = Option.flatMap(since, isoTime)
  if (Option.isSome(since) && Option.isNone(sinceDate)) {
    return Either.left("since must be an ISO 8601 date or time with an offset, such as 2026-01-10T00:00:00Z")
  }
  return Either.right({ sink: optional(filter.sink), topic: optional(filter.topic), since: sinceDate })
}

/** What a replay of `filter` puts back, as `npm run replay` checks its options; or what is wrong. */
export const replayFilter = (filter: Filter): Either.Either<ReplayFilter, string> => {
  if (filter.sink !== "" && !replaySinks.includes(filter.sink)) {
    return Either.left(`sink must be one of ${replaySinks.join(", ")}`)
  }
  if (filter.topic.length > MAX_TOPIC_LENGTH) return Either.left(`topic is longer than ${MAX_TOPIC_LENGTH} characters`)
  return storeFilter({ ...filter, reason: "" })
}
