/**
 * `npm run pack`: the installable package. Compiles `src` to ESM with declarations in `build/package/dist`, writes the
 * package's own `package.json` (its entry points, and only the dependencies every entry needs: the drivers, broker
 * clients and the service's platform are optional peers that an app installs when it uses them), and packs it as
 * `build/intercom-webhook-receiver-<version>.tgz`. Prints the tarball's path and size.
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const out = join(root, "build")
const packageDir = join(out, "package")

if (process.argv.length > 2) {
  console.error(`pack: takes no arguments (got ${process.argv.slice(2).join(" ")})\nusage: npm run pack`)
  process.exit(2)
}

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string
  version: string
  description: string
  engines: Record<string, string>
  dependencies: Record<string, string>
}

/** Needed by every entry point. */
const required = ["effect", "prom-client"]
/** Loaded only by what uses them: `.` (the service's layers) and the stores and sinks an app chooses. */
const optional = Object.keys(manifest.dependencies).filter((name) => !required.includes(name))

const entry = (path: string) => ({ types: `./dist/${path}.d.ts`, import: `./dist/${path}.js` })

rmSync(packageDir, { recursive: true, force: true })
mkdirSync(packageDir, { recursive: true })
execFileSync("npx", ["tsc", "-p", join(root, "tsconfig.package.json")], { cwd: root, stdio: "inherit" })
writeFileSync(
  join(packageDir, "package.json"),
  `${
    JSON.stringify(
      {
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        license: "UNLICENSED",
        type: "module",
        engines: manifest.engines,
        sideEffects: false,
        exports: {
          ".": entry("index"),
          "./web": entry("web"),
          "./node": entry("node"),
          "./fastify": entry("fastify"),
          "./schemas": entry("generated/index"),
          "./package.json": "./package.json"
        },
        files: ["dist", "README.md"],
        dependencies: Object.fromEntries(required.map((name) => [name, manifest.dependencies[name]!])),
        peerDependencies: Object.fromEntries(optional.map((name) => [name, manifest.dependencies[name]!])),
        peerDependenciesMeta: Object.fromEntries(optional.map((name) => [name, { optional: true }]))
      },
      null,
      2
    )
  }\n`
)
copyFileSync(join(root, "docs", "package.md"), join(packageDir, "README.md"))
const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", out], {
  cwd: packageDir,
  encoding: "utf8"
})
  .trim().split("\n").at(-1)!
const tarball = join(out, packed)
console.log(`${tarball} (${(statSync(tarball).size / 1024).toFixed(0)} KiB)`)
