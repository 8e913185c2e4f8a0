/**
 * `@async-job/openssl`: OpenSSL's ASYNC API, function for function, on `@async-job/core`. Everything is
 * documented in {@link ./Async.ts}.
 *
 * @since 0.1.0
 */
export * from "./Async.js"
