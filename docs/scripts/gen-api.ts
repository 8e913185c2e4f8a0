/**
 * Generates the API reference (markdown for VitePress) from the TSDoc of the public modules, with TypeDoc and
 * typedoc-plugin-markdown, into `docs/api/generated/` (ignored by git), plus `sidebar.json` for the site.
 *
 * Entry points, one TypeDoc run per package: every `src/*.ts` except `index.ts` (and nothing under `internal/`), or
 * only `src/index.ts` where the package is listed as `"index"`. Packages or files that do not exist yet are skipped.
 *
 * Each module's page opens with the module's opening doc comment (its introduction and example). Signatures wider
 * than the site's code column are formatted to it (`code-width.ts`).
 *
 * Afterwards, or the script fails: every module page has its introduction; every export of every entry point (as
 * TypeScript sees it, minus `@internal` ones) appears in the generated page of its module; every export has a
 * description, and so has each parameter and type parameter of its signatures (those missing are listed).
 *
 * A package's pages are generated again only when something they are made from changed: its sources, manifest and
 * tsconfigs, those of the workspace packages it depends on, this script, the lockfile (TypeDoc's version). Each
 * package's folder keeps a stamp of those inputs (`api/generated/<dir>.stamp.json`), written once its pages passed
 * every check above; `--force` regenerates everything.
 *
 * Usage: tsx scripts/gen-api.ts [--force]
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import {
  Application,
  Comment,
  type Context,
  Converter,
  type DeclarationReflection,
  DocumentReflection,
  type ProjectReflection,
  ReflectionKind,
  type SignatureReflection
} from "typedoc"
import ts from "typescript"
import { filesUnder, inputsDigest } from "../.vitepress/build-cache.js"
import type { SidebarItem } from "../.vitepress/sidebar.js"
import { compileExamples, headingsOf, introductionOf } from "./api-markdown.js"
import { fitSignatures } from "./code-width.js"

const docsDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const rootDir = Path.resolve(docsDir, "..")
const outDir = Path.join(docsDir, "api", "generated")

interface PackageSpec {
  /** Folder under packages/. */
  readonly dir: string
  /** "modules": every src/*.ts but index.ts; "index": src/index.ts alone. */
  readonly entries: "modules" | "index"
  /**
   * The file (under src/) whose opening doc comment introduces the package's page, where the package is documented
   * from `index.ts` alone and `index.ts` only re-exports that module.
   */
  readonly introduction?: string
}

const packages: ReadonlyArray<PackageSpec> = [
  { dir: "core", entries: "modules" },
  { dir: "openssl", entries: "index", introduction: "Async.ts" },
  { dir: "platform-node", entries: "modules" },
  { dir: "testing", entries: "modules" },
  { dir: "durable", entries: "modules" }
]

interface Resolved {
  readonly spec: PackageSpec
  readonly name: string
  readonly description: string
  readonly pkgDir: string
  readonly entryPoints: ReadonlyArray<string>
}

const resolve = (spec: PackageSpec): Resolved | undefined => {
  const pkgDir = Path.join(rootDir, "packages", spec.dir)
  const srcDir = Path.join(pkgDir, "src")
  const pkgJson = Path.join(pkgDir, "package.json")
  if (!Fs.existsSync(pkgJson) || !Fs.existsSync(srcDir)) return undefined
  const { description = "", name } = JSON.parse(Fs.readFileSync(pkgJson, "utf8")) as {
    readonly name: string
    readonly description?: string
  }
  const files = Fs.readdirSync(srcDir).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).sort()
  const chosen = spec.entries === "index"
    ? files.filter((f) => f === "index.ts")
    : files.filter((f) => f !== "index.ts")
  const entryPoints = (chosen.length > 0 ? chosen : files.filter((f) => f === "index.ts")).map((f) =>
    Path.join(srcDir, f)
  )
  return entryPoints.length > 0 ? { spec, name, description, pkgDir, entryPoints } : undefined
}

const tsconfigOf = (pkgDir: string): string => {
  const src = Path.join(pkgDir, "tsconfig.src.json")
  return Fs.existsSync(src) ? src : Path.join(pkgDir, "tsconfig.json")
}

const isInternal = (symbol: ts.Symbol): boolean =>
  symbol.getJsDocTags().some((tag) => tag.name === "internal") ||
  (symbol.declarations ?? []).some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === "internal"))

/** The public exports of an entry point, as TypeScript sees them. */
const exportsOf = (program: ts.Program, file: string): Array<string> => {
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(file)
  if (source === undefined) throw new Error(`TypeScript did not load ${file}`)
  const moduleSymbol = checker.getSymbolAtLocation(source)
  if (moduleSymbol === undefined) return []
  return checker.getExportsOfModule(moduleSymbol).filter((s) => !isInternal(s)).map((s) => s.getName())
}

/** What lacks a description, over all packages: reported at the end. */
const undescribed: Array<string> = []

const generate = async (pkg: Resolved): Promise<SidebarItem> => {
  const out = Path.join(outDir, pkg.spec.dir)
  const app = await Application.bootstrapWithPlugins(
    {
      name: pkg.name,
      entryPoints: [...pkg.entryPoints],
      entryPointStrategy: "resolve",
      tsconfig: tsconfigOf(pkg.pkgDir),
      plugin: ["typedoc-plugin-markdown"],
      out,
      readme: "none",
      excludeInternal: true,
      excludePrivate: true,
      disableSources: true,
      hideGenerator: true,
      // Type errors are `pnpm typecheck`'s business; the reference is built from whatever TypeScript understands.
      skipErrorChecking: true,
      logLevel: "Warn",
      // typedoc-plugin-markdown
      router: "module",
      entryFileName: "index",
      hidePageHeader: true,
      hideBreadcrumbs: true,
      useCodeBlocks: true,
      // Parameters and members as tables: compact pages, and no headings whose slugs collide with the anchors below.
      parametersFormat: "table",
      interfacePropertiesFormat: "table",
      classPropertiesFormat: "table",
      typeAliasPropertiesFormat: "table",
      typeDeclarationFormat: "table",
      propertyMembersFormat: "table",
      enumMembersFormat: "table",
      // Headings carry the anchor the plugin links to (`{#id}`), rather than leaving it to VitePress's slugs.
      useCustomAnchors: true
    } as Parameters<typeof Application.bootstrapWithPlugins>[0]
  )
  // Each module's opening doc comment (what it is, with its example) introduces its page. TypeDoc takes a file's
  // first comment for the module's only when it carries `@module`; here it needs not.
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module) || reflection.comment !== undefined) return
    const file = pkg.entryPoints.find((e) => Path.basename(e, ".ts") === reflection.name)
    const comment = file === undefined ? undefined : openingComment(context, file)
    if (comment !== undefined) reflection.comment = comment
  })
  app.converter.on(Converter.EVENT_CREATE_PROJECT, (context, project) => {
    if (pkg.entryPoints.length !== 1) return
    const file = pkg.spec.introduction === undefined
      ? pkg.entryPoints[0]!
      : Path.join(pkg.pkgDir, "src", pkg.spec.introduction)
    const comment = openingComment(context, file)
    if (comment !== undefined) project.comment = comment
  })
  // Keep TypeScript's program, to list the exports of the entry points below.
  let programs: ReadonlyArray<ts.Program> = []
  app.converter.on(Converter.EVENT_END, (context) => {
    programs = context.programs
  })
  const project = await app.convert()
  if (project === undefined) throw new Error(`TypeDoc could not convert ${pkg.name}`)
  // A constant's initializer is its implementation (`= internal.make`): not part of the reference.
  for (const reflection of project.getReflectionsByKind(ReflectionKind.Variable)) {
    delete (reflection as DeclarationReflection).defaultValue
  }
  // Members a class inherits from a dependency (for an Effect error: pipe, toJSON, the symbol-keyed protocols,
  // Error's own fields) would bury the fields a reader is looking for. `_tag` and the error's own data stay.
  for (const reflection of project.getReflectionsByKind(ReflectionKind.ClassMember)) {
    if (reflection.parent?.kindOf(ReflectionKind.Class) !== true || reflection.name === "_tag") continue
    const declaredIn = project.getSymbolIdFromReflection(reflection)?.fileName ?? ""
    if (declaredIn.includes("/node_modules/")) project.removeReflection(reflection)
  }
  // removeReflection leaves the groups and categories (built during conversion) pointing at removed members.
  for (const reflection of project.getReflectionsByKind(ReflectionKind.Class)) {
    const owner = reflection as DeclarationReflection
    const kept = new Set(owner.children ?? [])
    const prune = <G extends { children: Array<DeclarationReflection | DocumentReflection> }>(groups?: Array<G>) =>
      groups?.map((g) => ({ ...g, children: g.children.filter((c) => c instanceof DocumentReflection || kept.has(c)) }))
        .filter((g) => g.children.length > 0)
    const groups = prune(owner.groups)
    if (groups !== undefined) owner.groups = groups
    const categories = prune(owner.categories)
    if (categories !== undefined) owner.categories = categories
    for (const group of owner.groups ?? []) {
      const inGroup = prune(group.categories)
      if (inGroup !== undefined) group.categories = inGroup
    }
  }
  distributeParamTags(project)
  undescribed.push(...undescribedOf(project).map((name) => `${pkg.name}: ${name}`))
  await app.generateOutputs(project)
  // The page title's slug would collide with the anchor of the module's namesake export.
  for (const file of Fs.readdirSync(out, { recursive: true, encoding: "utf8" })) {
    if (!file.endsWith(".md")) continue
    const page = Path.join(out, file)
    const markdown = Fs.readFileSync(page, "utf8").replace(/^# (.+)$/m, "# $1 {#page-title}")
    Fs.writeFileSync(page, fitSignatures(compileExamples(markdown)))
  }

  // Which page documents which entry point.
  const modules: Array<{ readonly name: string; readonly file: string; readonly page: string }> = []
  if (pkg.entryPoints.length === 1) {
    modules.push({ name: pkg.name, file: pkg.entryPoints[0]!, page: "index" })
  } else {
    for (const child of project.children ?? []) {
      if (!child.kindOf(ReflectionKind.Module)) continue
      const file = pkg.entryPoints.find((e) => Path.basename(e, ".ts") === child.name)
      if (file === undefined) throw new Error(`No entry point for TypeDoc module ${child.name} of ${pkg.name}`)
      modules.push({ name: child.name, file, page: pageOf(out, child) })
    }
  }

  // Every module's page opens with its introduction, and every public export appears in it.
  const missing: Array<string> = []
  const unintroduced: Array<string> = []
  for (const m of modules) {
    const markdown = Fs.readFileSync(Path.join(out, `${m.page}.md`), "utf8")
    if (introductionOf(markdown) === "") unintroduced.push(m.name)
    const headings = headingsOf(markdown)
    const program = programs.find((p) => p.getSourceFile(m.file) !== undefined)
    if (program === undefined) throw new Error(`TypeDoc's programs do not hold ${m.file}`)
    for (const name of exportsOf(program, m.file)) {
      if (!headings.has(name)) missing.push(`${m.name}.${name}`)
    }
  }
  if (unintroduced.length > 0) {
    throw new Error(
      `API pages of ${pkg.name} without an introduction (the module's opening doc comment): ${unintroduced.join(", ")}`
    )
  }
  if (missing.length > 0) {
    throw new Error(`Exports missing from the API reference of ${pkg.name}: ${missing.join(", ")}`)
  }

  const base = `/api/generated/${pkg.spec.dir}/`
  return {
    text: pkg.name,
    link: base,
    collapsed: true,
    items: pkg.entryPoints.length === 1
      ? []
      : modules.map((m) => ({ text: m.name, link: `${base}${m.page}` }))
  }
}

/**
 * The opening doc comment of a source file, parsed by TypeDoc (its links resolve as those of the exports do). It
 * must be the only doc comment before the file's first statement (an import, as a rule), or TypeDoc could not tell
 * it from that statement's own.
 */
const openingComment = (context: Context, file: string): Comment | undefined => {
  const source = context.program.getSourceFile(file)
  if (source === undefined) throw new Error(`TypeScript did not load ${file}`)
  const docComments = (ts.getLeadingCommentRanges(source.text, 0) ?? [])
    .filter((range) => source.text.startsWith("/**", range.pos))
  if (docComments.length === 0) return undefined
  if (docComments.length > 1) {
    throw new Error(`${file}: its opening doc comment must be followed by a statement (an import), not a comment`)
  }
  return context.getNodeComment(source, false)
}

/**
 * A constant typed as a set of call signatures (a `dual` API: `{ (key): (self) => …; (self, key): … }`) carries its
 * `@param` and `@typeParam` tags on the constant, where TypeDoc leaves them as stray "Param" sections: they go to the
 * parameters and type parameters of its signatures, by name.
 */
const distributeParamTags = (project: ProjectReflection): void => {
  for (const reflection of project.getReflectionsByKind(ReflectionKind.Variable)) {
    const declaration = reflection as DeclarationReflection
    const comment = declaration.comment
    if (comment === undefined || declaration.type?.type !== "reflection") continue
    const signatures = declaration.type.declaration.signatures ?? []
    if (signatures.length === 0) continue
    const tags = comment.blockTags.filter((t) => t.tag === "@param" || t.tag === "@typeParam")
    if (tags.length === 0) continue
    for (const signature of signatures) {
      for (const param of [...(signature.parameters ?? []), ...(signature.typeParameters ?? [])]) {
        const kind = param.kindOf(ReflectionKind.TypeParameter) ? "@typeParam" : "@param"
        const tag = tags.find((t) => t.tag === kind && t.name === param.name)
        if (tag !== undefined && !describes(param.comment)) {
          param.comment = new Comment(Comment.cloneDisplayParts(tag.content))
        }
      }
    }
    comment.blockTags = comment.blockTags.filter((t) => !tags.includes(t))
  }
}

const describes = (comment: Comment | undefined): boolean =>
  comment !== undefined && comment.summary.some((part) => part.text.trim() !== "")

/**
 * The exports without a description, as `Module.name`, and the parameters and type parameters without one, as
 * `Module.name(param)` and `Module.name<T>`. Member functions of an exported interface count as its signatures.
 */
const undescribedOf = (project: ProjectReflection): Array<string> => {
  const missing: Array<string> = []
  const modules = project.children?.some((c) => c.kindOf(ReflectionKind.Module)) === true
    ? (project.children ?? []).filter((c) => c.kindOf(ReflectionKind.Module))
    : [project]
  const checkSignatures = (where: string, signatures: ReadonlyArray<SignatureReflection>) => {
    for (const signature of signatures) {
      for (const param of signature.parameters ?? []) {
        if (!describes(param.comment)) missing.push(`${where}(${param.name})`)
      }
      for (const typeParam of signature.typeParameters ?? []) {
        if (!describes(typeParam.comment)) missing.push(`${where}<${typeParam.name}>`)
      }
    }
  }
  for (const module of modules) {
    for (const exported of module.children ?? []) {
      const where = `${module.name}.${exported.name}`
      const signatures = exported.signatures ??
        (exported.type?.type === "reflection" ? exported.type.declaration.signatures ?? [] : [])
      if (!describes(exported.comment) && !signatures.some((s) => describes(s.comment))) missing.push(where)
      checkSignatures(where, signatures)
      for (const typeParam of exported.typeParameters ?? []) {
        if (!describes(typeParam.comment)) missing.push(`${where}<${typeParam.name}>`)
      }
    }
  }
  return missing
}

const pageOf = (out: string, module: DeclarationReflection): string => {
  for (const candidate of [module.name, `${module.name}/index`]) {
    if (Fs.existsSync(Path.join(out, `${candidate}.md`))) return candidate
  }
  throw new Error(`No page generated for module ${module.name} in ${out}`)
}

/** The workspace packages a package depends on (dependencies of any kind named `@async-job/*`), transitively. */
const workspaceDependencies = (pkgDir: string, seen: Set<string> = new Set()): Set<string> => {
  const manifest = JSON.parse(Fs.readFileSync(Path.join(pkgDir, "package.json"), "utf8")) as Record<string, unknown>
  const names = ["dependencies", "peerDependencies", "devDependencies"].flatMap((field) =>
    Object.keys((manifest[field] ?? {}) as Record<string, string>)
  ).filter((name) => name.startsWith("@async-job/"))
  for (const dir of Fs.readdirSync(Path.join(rootDir, "packages"))) {
    const other = Path.join(rootDir, "packages", dir)
    const otherManifest = Path.join(other, "package.json")
    if (seen.has(other) || !Fs.existsSync(otherManifest)) continue
    const { name } = JSON.parse(Fs.readFileSync(otherManifest, "utf8")) as { readonly name: string }
    if (!names.includes(name)) continue
    seen.add(other)
    workspaceDependencies(other, seen)
  }
  return seen
}

/** The digest of what a package's pages are made from. */
const inputsOf = (pkg: Resolved): string => {
  const packageFiles = (dir: string) =>
    filesUnder(dir, (file) => {
      const relative = Path.relative(dir, file)
      return relative.startsWith(`src${Path.sep}`) || /^(?:package|tsconfig[\w.]*)\.json$/.test(relative)
    })
  return inputsDigest([
    ...[pkg.pkgDir, ...workspaceDependencies(pkg.pkgDir)].flatMap(packageFiles),
    fileURLToPath(import.meta.url),
    Path.join(docsDir, "scripts", "api-markdown.ts"),
    Path.join(docsDir, "scripts", "code-width.ts"),
    Path.join(rootDir, "tsconfig.base.json"),
    Path.join(rootDir, "pnpm-lock.yaml")
  ], [JSON.stringify(pkg.spec)])
}

interface Stamp {
  readonly inputs: string
  readonly sidebar: SidebarItem
  readonly description: string
}

const stampFile = (spec: PackageSpec) => Path.join(outDir, `${spec.dir}.stamp.json`)

/** The stamp of a package's pages, if they exist and were made from these inputs. */
const upToDate = (pkg: Resolved, inputs: string): Stamp | undefined => {
  const file = stampFile(pkg.spec)
  if (!Fs.existsSync(file) || !Fs.existsSync(Path.join(outDir, pkg.spec.dir))) return undefined
  const stamp = JSON.parse(Fs.readFileSync(file, "utf8")) as Stamp
  return stamp.inputs === inputs ? stamp : undefined
}

const main = async (): Promise<void> => {
  const started = Date.now()
  const force = process.argv.includes("--force")
  Fs.mkdirSync(outDir, { recursive: true })
  // Whatever is not a current package's folder or stamp is left from an earlier layout: removed.
  const current = new Set(packages.flatMap((spec) => [spec.dir, `${spec.dir}.stamp.json`]))
  for (const entry of Fs.readdirSync(outDir)) {
    if (!current.has(entry) && entry !== "sidebar.json" && entry !== "packages.json") {
      Fs.rmSync(Path.join(outDir, entry), { recursive: true, force: true })
    }
  }
  const sidebar: Array<SidebarItem> = []
  const overview: Array<{ readonly name: string; readonly description: string; readonly link: string }> = []
  for (const spec of packages) {
    const pkg = resolve(spec)
    if (pkg === undefined) {
      Fs.rmSync(Path.join(outDir, spec.dir), { recursive: true, force: true })
      Fs.rmSync(stampFile(spec), { force: true })
      console.log(`api: packages/${spec.dir} has no public modules yet, skipped`)
      continue
    }
    const inputs = inputsOf(pkg)
    const stamp = force ? undefined : upToDate(pkg, inputs)
    if (stamp !== undefined) {
      sidebar.push(stamp.sidebar)
      overview.push({ name: pkg.name, description: stamp.description, link: stamp.sidebar.link ?? "" })
      console.log(`api: ${pkg.name}: unchanged since its pages were generated`)
      continue
    }
    Fs.rmSync(stampFile(spec), { force: true })
    Fs.rmSync(Path.join(outDir, spec.dir), { recursive: true, force: true })
    const before = undescribed.length
    const item = await generate(pkg)
    sidebar.push(item)
    overview.push({ name: pkg.name, description: pkg.description, link: item.link ?? "" })
    if (undescribed.length === before) {
      const written: Stamp = { inputs, sidebar: item, description: pkg.description }
      Fs.writeFileSync(stampFile(spec), JSON.stringify(written, null, 2) + "\n")
    }
    console.log(`api: ${pkg.name}: ${pkg.entryPoints.map((e) => Path.relative(rootDir, e)).join(", ")}`)
  }
  if (undescribed.length > 0) {
    const list = [...new Set(undescribed)].join("\n  ")
    throw new Error(`Exports without a description (or parameters, type parameters without one):\n  ${list}`)
  }
  Fs.writeFileSync(Path.join(outDir, "sidebar.json"), JSON.stringify(sidebar, null, 2) + "\n")
  Fs.writeFileSync(Path.join(outDir, "packages.json"), JSON.stringify(overview, null, 2) + "\n")
  console.log(`api: done in ${Date.now() - started} ms`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
