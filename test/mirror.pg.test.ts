import { describe } from "@effect/vitest"
import { Effect } from "effect"
import { mirrorSuite } from "./support/MirrorSuite.js"
import { databaseUrl, freshDatabase, pgHost, pgPort, queryDatabase } from "./support/Postgres.js"
import { requireService } from "./support/Services.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

describe.runIf(up)("the mirror sink (PostgreSQL)", () => {
  mirrorSuite(Effect.map(freshDatabase, (name) => ({
    env: { STORE_URL: databaseUrl(name) },
    query: (_server, sql) => queryDatabase<Record<string, unknown>>(name, sql),
    rewriteDeadLetter: (_server, notificationId, body) =>
      Effect.asVoid(
        queryDatabase(name, "UPDATE dead_letters SET body = $1 WHERE notification_id = $2", [
          Buffer.from(body),
          notificationId
        ])
      )
  })))
})
