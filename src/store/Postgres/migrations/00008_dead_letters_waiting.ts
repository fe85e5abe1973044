/** The dead letters still waiting, by sink and reason: what the console's overview counts. */
export const statements = [
  "CREATE INDEX dead_letters_waiting ON dead_letters (sink, reason) WHERE replayed_at IS NULL"
]
