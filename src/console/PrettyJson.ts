/**
 * JSON text re-indented by its tokens, each kept as received: parsing and printing again would show a 20-digit id
 * rounded, `1e2` as `100` and a duplicated key once. Undefined when the text is not JSON, or when indenting would make
 * it much larger (thousands of nested arrays): the page then shows it as received.
 */
export const prettyJson = (text: string): string | undefined => {
  try {
    JSON.parse(text)
  } catch {
    return undefined
  }
  const limit = text.length * 4 + 65_536
  const out: Array<string> = []
  let size = 0
  let depth = 0
  const push = (part: string) => {
    out.push(part)
    size += part.length
  }
  const newline = () => push(`\n${"  ".repeat(depth)}`)
  let at = 0
  while (at < text.length) {
    if (size > limit) return undefined
    const char = text[at]!
    if (char === "\"") {
      let end = at + 1
      while (text[end] !== "\"") end += text[end] === "\\" ? 2 : 1
      push(text.slice(at, end + 1))
      at = end + 1
    } else if (char === "{" || char === "[") {
      const next = /\S/g
      next.lastIndex = at + 1
      const following = next.exec(text)!
      if (following[0] === (char === "{" ? "}" : "]")) {
        push(char === "{" ? "{}" : "[]")
        at = following.index + 1
      } else {
        push(char)
        depth++
        newline()
        at++
      }
    } else if (char === "}" || char === "]") {
      depth--
      newline()
      push(char)
      at++
    } else if (char === ",") {
      push(",")
      newline()
      at++
    } else if (char === ":") {
      push(": ")
      at++
    } else if (/\s/.test(char)) {
      at++
    } else {
      const scalar = /[^\s,\]}:]+/y
      scalar.lastIndex = at
      const token = scalar.exec(text)![0]
      push(token)
      at += token.length
    }
  }
  return out.join("")
}
