/** @type {import("next").NextConfig} */
const nextConfig = {
  // Not bundled: Node loads the package from node_modules at run time. Its stores import `better-sqlite3` or `pg` only
  // when one is chosen, and this app installs neither: bundled, the build fails on "Module not found".
  serverExternalPackages: ["intercom-webhook-receiver"],
  // This directory is the app's root. Left to infer it, Next.js picks the nearest lockfile's directory (in this
  // repository, the top one) and resolves from the node_modules there too.
  turbopack: { root: import.meta.dirname }
}

export default nextConfig
