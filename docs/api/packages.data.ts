/**
 * Build-time loader for the API overview: the packages `scripts/gen-api.ts` documented, from `generated/`.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { defineLoader } from "vitepress"
import type { SidebarItem } from "../.vitepress/sidebar.js"

export interface ApiPackage {
  readonly name: string
  readonly description: string
  readonly link: string
  readonly modules: ReadonlyArray<{ readonly text: string; readonly link: string }>
}

declare const data: ReadonlyArray<ApiPackage>
export { data }

const generatedDir = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "generated")

const readJson = <A>(file: string, fallback: A): A =>
  Fs.existsSync(file) ? (JSON.parse(Fs.readFileSync(file, "utf8")) as A) : fallback

export default defineLoader({
  load: (): ReadonlyArray<ApiPackage> => {
    const packages = readJson<ReadonlyArray<Omit<ApiPackage, "modules">>>(Path.join(generatedDir, "packages.json"), [])
    const sidebar = readJson<ReadonlyArray<SidebarItem>>(Path.join(generatedDir, "sidebar.json"), [])
    return packages.map((pkg) => ({
      ...pkg,
      modules: (sidebar.find((item) => item.text === pkg.name)?.items ?? []).map((item) => ({
        text: item.text ?? "",
        link: item.link ?? ""
      }))
    }))
  }
})
