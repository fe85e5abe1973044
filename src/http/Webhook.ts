import {
  Cause,
  Effect,
  Either,
  Exit,
  type Fiber,
  FiberId,
  FiberRef,
  FiberRefs,
  HashMap,
  List,
  LogLevel,
  Runtime
} from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { NotificationLog } from "../log/NotificationLog.js"
import { Annotated } from "../ops/LogLines.js"
import type { Metrics } from "../ops/Metrics.js"
import { type Outcome, type ReceiveError, Receiver } from "../pipeline/Receiver.js"
import { Signature, type Verified } from "../pipeline/Signature.js"
import {
  admit,
  type Answer,
  Answered,
  bodyRefused,
  count,
  type Handled,
  receiveRefused,
  signatureRefused,
  unexpected
} from "./Answers.js"
import { readBody } from "./Body.js"
import type { BodyBudget } from "./BodyBudget.js"

export interface WebhookSettings {
  readonly maxBodyBytes: number
  readonly budget: BodyBudget
}

/**
 * Writes an info line through the runtime's loggers as `Effect.logInfo` in a fiber of that runtime would (same loggers,
 * same minimum level, no annotations or spans, which the request's fiber never has), from its observer: logging from
 * inside the fiber copied the fiber's locals for every line. Undefined when info lines are not logged.
 */
const infoLine = (runtime: Runtime.Runtime<never>) => {
  const context = runtime.fiberRefs
  const loggers = FiberRefs.getOrDefault(context, FiberRef.currentLoggers)
  if (LogLevel.greaterThan(FiberRefs.getOrDefault(context, FiberRef.currentMinimumLogLevel), LogLevel.Info)) return
  const annotations = HashMap.empty<string, unknown>()
  const spans = List.empty<never>()
  return (fiberId: FiberId.FiberId, message: Annotated) => {
    const date = new Date()
    for (const logger of loggers) {
      logger.log({
        fiberId,
        logLevel: LogLevel.Info,
        message: [message],
        cause: Cause.empty,
        context,
        spans,
        annotations,
        date
      })
    }
  }
}

/** The request's one log line, its fields carried by the message (see `Annotated`). */
const requestLine = ({ answer, error, received }: Handled, started: number) =>
  new Annotated("webhook", {
    status: answer.status,
    duration_ms: Math.round((performance.now() - started) * 100) / 100,
    ...(received === undefined ? {} : {
      topic: received.notification.topic ?? "none",
      intercom_topic: received.notification.intercomTopic,
      id: received.notification.id ?? "-",
      outcome: received.status,
      ...(received.notification.schemaMismatch === undefined ? {} : { schema: "mismatch" }),
      secret_index: received.secretIndex
    }),
    ...(error === undefined ? {} : { error })
  })

const send = (response: ServerResponse, { body, headers, status }: Answer) => {
  const json = JSON.stringify(body)
  response.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json)
  })
  response.end(json)
}

/**
 * The webhook endpoint as a Node `request` listener. The headers and the body are checked here, with plain callbacks
 * (a refusal needs no fiber); a verified body then runs through the pipeline as one fiber of the app's runtime, whose
 * observer answers. Every answer is counted and logged (one line) before it is written. It is served outside
 * `HttpServer.serve`, whose request and response wrappers, context and response effects cost about as much as the rest
 * of the HTTP handling here. A client that goes away stops the reading of its body, or interrupts the fiber, as the
 * platform's handler does. The request's share of `BODY_BUDGET_BYTES` is given back once it is answered or abandoned.
 */
export const webhook = (metrics: Metrics["Type"], settings: WebhookSettings) =>
  Effect.gen(function*() {
    const receiver = yield* Receiver
    const signature = yield* Signature
    const notificationLog = yield* NotificationLog
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const log = infoLine(runtime)
    return (request: IncomingMessage, response: ServerResponse): void => {
      const started = performance.now()
      const answered = (handled: Handled) => {
        if (response.writableEnded) return
        metrics.requests.inc({ status: String(handled.answer.status) })
        notificationLog.record(handled.answer.status, handled.received)
        send(response, handled.answer)
      }
      // Anything thrown after the answer was decided (counting, logging) is still answered 500, counted and logged.
      const failed = (defect: unknown) =>
        runFork(unexpected(metrics)(defect)).addObserver(Exit.match({ onFailure: () => {}, onSuccess: answered }))
      const finish = (handled: Handled, fiberId: FiberId.FiberId) => {
        try {
          if (handled.received !== undefined) count(metrics, handled.received)
          log?.(fiberId, requestLine(handled, started))
        } catch (defect) {
          return failed(defect)
        }
        answered(handled)
      }

      const admitted = admit(signature, metrics, request.headers)
      if (Either.isLeft(admitted)) return finish(admitted.left, FiberId.none)
      const verifier = admitted.right
      const share = settings.budget.share()
      let fiber: Fiber.RuntimeFiber<Outcome, ReceiveError> | undefined
      let reading = true
      const stopReading = readBody(request, settings.maxBodyBytes, share, verifier.update, (body) => {
        reading = false
        let verified: Either.Either<Verified, Handled>
        try {
          verified = Either.flatMap(
            Either.mapLeft(body, (error) => bodyRefused(metrics, error)),
            (bytes) => Either.mapLeft(verifier.finish(bytes), (error) => signatureRefused(metrics, error))
          )
        } catch (defect) {
          // Thrown from a stream's event: without this, the process would crash rather than answer 500.
          share.release()
          return failed(defect)
        }
        if (Either.isLeft(verified)) {
          share.release()
          return finish(verified.left, FiberId.none)
        }
        // The fiber runs the pipeline alone: the answer, a refusal and a defect's 500 are made by its observer.
        const { secretIndex } = verified.right
        const running = runFork(receiver.receive(verified.right))
        fiber = running
        running.addObserver((exit) => {
          share.release()
          if (Exit.isSuccess(exit)) return finish(new Answered({ ...exit.value, secretIndex }), running.id())
          // Interrupted: the client went away.
          if (Cause.isInterruptedOnly(exit.cause)) return
          Either.match(Cause.failureOrCause(exit.cause), {
            onLeft: (error) =>
              runFork(Effect.catchAllDefect(receiveRefused(error), unexpected(metrics))).addObserver(
                Exit.match({ onFailure: () => {}, onSuccess: (handled) => finish(handled, running.id()) })
              ),
            onRight: (cause) => failed(Cause.squash(cause))
          })
        })
      })
      response.once("close", () => {
        if (response.writableEnded) return
        if (reading) {
          reading = false
          stopReading()
          share.release()
        } else fiber?.unsafeInterruptAsFork(FiberId.none)
      })
    }
  })
