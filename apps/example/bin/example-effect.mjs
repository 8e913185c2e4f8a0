#!/usr/bin/env node
// `pnpm example-effect`: the man page's example on the Effect API (a bin, so that pnpm prints no banner)
import { register } from "tsx/esm/api"

register()
await import("../src/mainEffect.ts")
