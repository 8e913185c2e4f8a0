import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { defineLoader } from "vitepress"
import type { SidebarItem } from "../.vitepress/sidebar.js"

export interface ApiPackage {
  readonly name: string
  readonly link: string
  readonly modules: ReadonlyArray<string>
}

declare const data: ReadonlyArray<ApiPackage>
export { data }

const sidebarFile = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "generated", "sidebar.json")

export default defineLoader({
  watch: [sidebarFile],
  load: (): ReadonlyArray<ApiPackage> => {
    if (!Fs.existsSync(sidebarFile)) return []
    const sidebar = JSON.parse(Fs.readFileSync(sidebarFile, "utf8")) as Array<SidebarItem>
    return sidebar.map((pkg) => ({
      name: pkg.text ?? "",
      link: pkg.link ?? "",
      modules: (pkg.items ?? []).map((item) => item.text ?? "")
    }))
  }
})
