const words = (text: string): Array<string> => text.split(/[^A-Za-z0-9]+/).filter((word) => word.length > 0)

const capitalize = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1)

/** `conversation_part.list` -> `ConversationPartList`, `contacts.tagCreated` -> `ContactsTagCreated` */
export const pascalCase = (text: string): string => words(text).map(capitalize).join("")

/** Schema name of an object whose `type` is `kind`. */
export const kindName = (kind: string): string => pascalCase(kind)

/** Schema name of an untyped object under `key` of `owner`: Parent + Key, without repeating the parent. */
export const memberName = (owner: string, key: string): string => {
  const member = pascalCase(key)
  return member.startsWith(owner) ? member : owner + member
}

/** Module and schema name of a canonical topic: `contacts.tagCreated` -> `ContactsTagCreated`. */
export const topicName = (topic: string): string => pascalCase(topic)

export const propertyKey = (key: string): string => /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key)

/** Schema name of a canonical topic's whole notification: `ping` -> `PingNotification`. */
export const notificationName = (topic: string): string => `${topicName(topic)}Notification`
