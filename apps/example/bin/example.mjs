#!/usr/bin/env node
// `pnpm example` (a bin, not a root script, so that pnpm prints no banner of its own): the man page's example
import { register } from "tsx/esm/api"

register()
await import("../src/main.ts")
