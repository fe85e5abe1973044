import { createWebhookHandler } from "intercom-webhook-receiver/web"
import { hooks } from "../../../lib/hooks"

// Read the raw body and verify its signature on Node.js, on every request: never prerendered or cached.
export const runtime = "nodejs"
export const dynamic = "force-dynamic"

// Created once per server process. It reads the request's body itself: hand it the request untouched.
const handler = createWebhookHandler({ secret: process.env.INTERCOM_CLIENT_SECRET ?? "", hooks })

// POST for notifications, HEAD for the check Intercom makes when the webhook URL is saved.
export { handler as HEAD, handler as POST }
