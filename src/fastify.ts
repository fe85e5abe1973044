export type { CanonicalTopic, NotificationOf } from "./generated/index.js"
export { type FastifyWebhookOptions, intercomWebhook } from "./mount/Fastify.js"
export type { HookContext, Hooks } from "./mount/Hooks.js"
export type { WebhookOptions } from "./mount/Options.js"
