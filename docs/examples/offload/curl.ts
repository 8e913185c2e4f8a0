/**
 * What the offload service's guide sessions share: start the
 * service as `pnpm start` does (`node --import tsx
 * apps/offload-service/src/main.ts`, on a free port), make a
 * request with `fetch`, and print it as the `curl` command a reader
 * would type, followed by the answer. Job ids are random UUIDs, so
 * the printout names them `job-1`, `job-2`… in the order they first
 * appear.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(
  new URL(
    "../../../apps/offload-service/src/main.ts",
    import.meta.url
  )
)

/**
 * Starts the service with `env` and resolves with its base URL,
 * read from its first line of output.
 */
export const startService = async (
  env: Record<string, string>
): Promise<
  { url: string; child: ChildProcess; output: () => string }
> => {
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "inherit"]
  })
  let output = ""
  // read every line the service prints, also after the URL (its
  // shutdown lines), so none is written to a closed pipe
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk) => {
      output += String(chunk)
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match !== null) resolve(match[1]!)
    })
    child.on(
      "exit",
      () =>
        reject(
          new Error(
            `the service exited before listening: ${output}`
          )
        )
    )
  })
  return { url: await listening, child, output: () => output }
}

export const stop = async (child: ChildProcess) => {
  // "close": the process has exited and its output has been read to
  // the end
  const exited = once(child, "close")
  child.kill("SIGTERM")
  await exited
}

const ids = new Map<string, string>()
/** Replaces every job id with `job-N`. */
const named = (text: string) =>
  text.replace(
    /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
    (id) => {
      if (!ids.has(id)) ids.set(id, `job-${ids.size + 1}`)
      return ids.get(id)!
    }
  )

/**
 * One request, printed as its curl command and the answer (with
 * `-i`: status line and the named headers).
 */
export const curl = async (
  base: string,
  method: string,
  path: string,
  options: {
    body?: string
    headers?: ReadonlyArray<string>
    print?: boolean
  } = {}
) => {
  const response = await fetch(base + path, {
    method,
    headers: options.body === undefined
      ? {}
      : { "content-type": "application/json" },
    body: options.body ?? null
  })
  const text = await response.text()
  if (options.print === false) return JSON.parse(text)
  const flags = [
    "-s",
    ...(options.headers === undefined ? [] : ["-i"]),
    ...(method === "GET" ? [] : ["-X", method])
  ]
  const url = path.includes("?")
    ? `'http://127.0.0.1:8080${path}'`
    : `http://127.0.0.1:8080${path}`
  const data = options.body === undefined
    ? ""
    : ` -d '${options.body}'`
  console.log(named(`$ curl ${flags.join(" ")} ${url}${data}`))
  if (options.headers !== undefined) {
    console.log(
      `HTTP/1.1 ${response.status} ${response.statusText}`
    )
    for (const name of options.headers) {
      console.log(`${name}: ${response.headers.get(name)}`)
    }
    console.log("")
  }
  console.log(named(text))
  console.log("")
  return JSON.parse(text)
}

export const scrypt =
  `{"op":"scrypt","password":"pw","salt":"salt","N":65536}`
