import { Either } from "effect"

const lineColumn = (text: string, position: number): string => {
  const before = text.slice(0, position).split("\n")
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`
}

/**
 * Parses JSON; a failure says why without quoting the text (V8's messages quote it, and the file may be anything:
 * a secret, a system file): where it stops being JSON when V8 says, or that it is empty or ends early.
 */
export const parseJson = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    const message = error instanceof Error ? error.message : ""
    const position = /at position (\d+)/.exec(message)
    if (position !== null) return Either.left(`is not JSON (${lineColumn(text, Number(position[1]))})`)
    if (text.trim() === "") return Either.left("is empty, not JSON")
    return Either.left(message.startsWith("Unexpected end") ? "is not JSON (it ends early)" : "is not JSON")
  }
}
