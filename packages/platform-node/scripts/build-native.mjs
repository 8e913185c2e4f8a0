// Builds the native addon (build/Release/async_job_fd.node) with node-gyp.
//
// Runs as this package's `install` script, so `pnpm install` builds it. To stay offline, and to build against the
// Node that runs it (the workspace's own Node 24, from the npm registry, when the machine's is older), it points
// node-gyp at the headers installed next to the running node (<prefix>/include/node) when they exist, and only
// otherwise at `npm_config_nodedir` (a user's ~/.npmrc may name another Node's headers there); node-gyp downloads
// headers only when neither is available.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const require = createRequire(import.meta.url)

const findNodeGyp = () => {
  try {
    return [process.execPath, require.resolve("node-gyp/bin/node-gyp.js")]
  } catch {
    return ["node-gyp"]
  }
}

const findNodeDir = () => {
  const prefix = dirname(dirname(process.execPath))
  if (existsSync(join(prefix, "include", "node", "node_api.h"))) return prefix
  return process.env.npm_config_nodedir || undefined
}

const [command, ...prefixArgs] = findNodeGyp()
const nodeDir = findNodeDir()
const args = [...prefixArgs, "configure", "build", ...(nodeDir === undefined ? [] : [`--nodedir=${nodeDir}`])]
// node-gyp lets an `npm_config_nodedir` in its environment (pnpm exports ~/.npmrc's `nodedir` to install scripts)
// override `--nodedir`: the child gets the chosen directory there too
const env = nodeDir === undefined ? process.env : { ...process.env, npm_config_nodedir: nodeDir }
const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env })
if (result.error) {
  console.error(`@async-job/platform-node: could not run node-gyp: ${result.error.message}`)
  process.exit(1)
}
process.exit(result.status ?? 1)
