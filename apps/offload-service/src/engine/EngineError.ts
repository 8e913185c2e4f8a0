/**
 * The ways a crypto engine request fails. Schema classes, because they cross
 * the wire: the HTTP API reports them in its error bodies.
 */
import * as Schema from "effect/Schema"

/**
 * The worker running a request crashed (it threw, or exited) before
 * answering. The worker has been replaced by a fresh one.
 */
export class WorkerCrashedError extends Schema.TaggedError<WorkerCrashedError>()("WorkerCrashedError", {
  threadId: Schema.Number,
  message: Schema.String
}) {}

/**
 * The engine was shut down (its scope closed) before the request completed,
 * or the request was submitted after that.
 */
export class EngineClosedError extends Schema.TaggedError<EngineClosedError>()("EngineClosedError", {
  message: Schema.String
}) {}

/**
 * No worker can take the request: every worker of the engine fails to start
 * (the engine is unhealthy and keeps retrying with back-off). Retry later.
 */
export class EngineUnavailableError extends Schema.TaggedError<EngineUnavailableError>()("EngineUnavailableError", {
  message: Schema.String
}) {}

/**
 * The engine's queue holds its byte bound (`maxQueuedBytes`) of requests not
 * yet handed to a worker: retry later.
 */
export class EngineOverloadedError extends Schema.TaggedError<EngineOverloadedError>()("EngineOverloadedError", {
  message: Schema.String
}) {}

/**
 * `node:crypto` refused the operation. Requests that pass the
 * `Operation.Request` Schema are not expected to meet this.
 */
export class OperationFailedError extends Schema.TaggedError<OperationFailedError>()("OperationFailedError", {
  op: Schema.String,
  message: Schema.String
}) {}

export const EngineError = Schema.Union([
  WorkerCrashedError,
  EngineClosedError,
  EngineUnavailableError,
  EngineOverloadedError,
  OperationFailedError
])

export type EngineError =
  | WorkerCrashedError
  | EngineClosedError
  | EngineUnavailableError
  | EngineOverloadedError
  | OperationFailedError
