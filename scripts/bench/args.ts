/** The command line of a bench script: options are taken out of `args` as they are read, leaving the servers named. */

/** The value after `name` (removing both), or `fallback` when `name` is absent. */
export const takeOption = (args: Array<string>, name: string, fallback: string): string => {
  const at = args.indexOf(name)
  if (at === -1) return fallback
  const value = args[at + 1]!
  args.splice(at, 2)
  return value
}

/** Whether `name` is present (removing it). */
export const takeFlag = (args: Array<string>, name: string): boolean => {
  const at = args.indexOf(name)
  if (at !== -1) args.splice(at, 1)
  return at !== -1
}
