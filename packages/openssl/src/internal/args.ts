/**
 * The copy of `ASYNC_start_job`'s `args` that the job receives (Port decision 9).
 */
import { Buffer } from "node:buffer"

/** The copy could not be made: `ASYNC_start_job` answers `ASYNC_ERR` and starts nothing. @internal */
export const CopyFailed: unique symbol = Symbol("CopyFailed")

type TypedArrayConstructor = new(buffer: ArrayBufferLike) => ArrayBufferView

const copyBytes = (view: ArrayBufferView, size: number): ArrayBufferView => {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, size).slice()
  if (Buffer.isBuffer(view)) return Buffer.from(bytes.buffer)
  if (view instanceof DataView) return new DataView(bytes.buffer)
  const ctor = view.constructor as TypedArrayConstructor & { readonly BYTES_PER_ELEMENT: number }
  return size % ctor.BYTES_PER_ELEMENT === 0 ? new ctor(bytes.buffer) : bytes
}

/**
 * - `null` / `undefined` → `null` (`size` ignored, as C ignores it for a NULL `args`);
 * - an ArrayBuffer or a view with `size` → its first `size` bytes (a view keeps its kind when `size` is a
 *   multiple of its element size, else it becomes a `Uint8Array`); `size` must be an integer from 0 to the
 *   byte length (C would read past the buffer);
 * - a Node `Buffer` stays a `Buffer`;
 * - anything else → `structuredClone(args)`; `size` is ignored.
 *
 * @internal
 */
export const copyArgs = (args: unknown, size: number | undefined): unknown => {
  if (args === null || args === undefined) return null
  try {
    const isBuffer = args instanceof ArrayBuffer || ArrayBuffer.isView(args)
    if (isBuffer && size !== undefined) {
      const length = args.byteLength
      if (!Number.isInteger(size) || size < 0 || size > length) return CopyFailed
      return args instanceof ArrayBuffer ? args.slice(0, size) : copyBytes(args, size)
    }
    if (Buffer.isBuffer(args)) return Buffer.from(args)
    return structuredClone(args)
  } catch {
    return CopyFailed
  }
}
