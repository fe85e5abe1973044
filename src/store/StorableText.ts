/** A NUL or an unpaired surrogate: PostgreSQL keeps neither in a text or jsonb value (SQLite keeps both). */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** True when every store keeps `text` as it is. */
export const isStorable = (text: string): boolean => !UNSTORABLE.test(text)
