import { Effect, type Scope } from "effect"
import * as DurableFile from "./DurableFile.js"
import { record, type Sink, SinkError } from "./Sink.js"

/** Appends one JSON record per notification to a JSONL file, on disk before `deliver` succeeds. */
export const make = (path: string): Effect.Effect<Sink, DurableFile.FileWriteError, Scope.Scope> =>
  Effect.map(DurableFile.make(path), (file) => ({
    name: "file",
    deliver: (notification) =>
      file.append(record(notification)).pipe(
        Effect.mapError((error) => new SinkError({ sink: "file", message: `cannot write ${path}: ${error.message}` }))
      )
  }))
