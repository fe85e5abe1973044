import { Effect, Option, type Scope } from "effect"
import * as DurableFile from "./DurableFile.js"
import { recordParts, type Sink, SinkError } from "./Sink.js"

/** Appends one JSON record per notification to a JSONL file, on disk before `deliver` succeeds. */
export const make = (path: string): Effect.Effect<Sink, DurableFile.FileWriteError, Scope.Scope> =>
  Effect.map(DurableFile.make(path), (file) => ({
    name: "file",
    mode: "inline",
    input: "bytes",
    problem: Effect.map(file.healthy, (healthy) => healthy ? Option.none() : Option.some(`cannot write ${path}`)),
    deliver: (notification) =>
      file.append(recordParts(notification)).pipe(
        Effect.mapError((error) => SinkError.unavailable("file", `cannot write ${path}: ${error.message}`))
      )
  }))
