import { describe } from "@effect/vitest"
import { Effect } from "effect"
import { mirrorHostileSuite } from "./support/MirrorHostile.js"
import { type MirrorStore, mirrorSuite } from "./support/MirrorSuite.js"
import { databaseUrl, freshDatabase, pgHost, pgPort, queryDatabase } from "./support/Postgres.js"
import { requireService } from "./support/Services.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

/** A fresh database per test. */
const store = Effect.map(freshDatabase, (name): MirrorStore => ({
  env: { STORE_URL: databaseUrl(name) },
  query: (_server, sql) => queryDatabase<Record<string, unknown>>(name, sql),
  rewriteDeadLetter: (_server, notificationId, body) =>
    Effect.asVoid(
      queryDatabase(name, "UPDATE dead_letters SET body = $1 WHERE notification_id = $2", [
        Buffer.from(body),
        notificationId
      ])
    ),
  exec: (_server, sql) => Effect.asVoid(queryDatabase(name, sql)),
  refuseContact: (_server, id) =>
    Effect.zipRight(
      queryDatabase(
        name,
        `CREATE FUNCTION refuse_contact() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.id = '${id}' THEN RAISE EXCEPTION 'planted: this contact is refused' USING ERRCODE = '22023'; END IF;
          RETURN NEW;
        END $$`
      ),
      queryDatabase(
        name,
        "CREATE TRIGGER refuse_contact BEFORE INSERT ON intercom_contacts FOR EACH ROW EXECUTE FUNCTION refuse_contact()"
      )
    ),
  forgetVersionRepair: () => Effect.asVoid(queryDatabase(name, "DELETE FROM receiver_migrations WHERE id = 6"))
}))

describe.runIf(up)("the mirror sink (PostgreSQL)", () => {
  mirrorSuite(store)
  mirrorHostileSuite(store)
})
