//! AWS Lambda for Stratus: functions run as local processes behind a real
//! implementation of the Lambda Runtime API (no containers).
//!
//! # Operations
//! - Functions: CreateFunction (ZipFile, or local-code mode), GetFunction,
//!   GetFunctionConfiguration, ListFunctions (Marker/MaxItems, FunctionVersion=ALL),
//!   DeleteFunction (whole function or one version), UpdateFunctionCode,
//!   UpdateFunctionConfiguration (RevisionId checks, Publish, DryRun).
//! - Versions and aliases: PublishVersion, ListVersionsByFunction, Create/Get/
//!   Update/Delete/ListAliases with weighted routing (AdditionalVersionWeights).
//!   `Qualifier` (or `name:qualifier`, partial and full ARNs) works everywhere.
//! - Layers: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn,
//!   ListLayers, ListLayerVersions, DeleteLayerVersion,
//!   Add/RemoveLayerVersionPermission, GetLayerVersionPolicy.
//! - Policy and settings: AddPermission, RemovePermission, GetPolicy;
//!   Put/Get/DeleteFunctionConcurrency (account limit 1,000, at least 100
//!   unreserved); Put/Get/Delete/ListProvisionedConcurrencyConfigs (pre-warms
//!   environments; READY once they are up); Put/Update/Get/Delete/
//!   ListFunctionEventInvokeConfigs; TagResource, UntagResource, ListTags
//!   (functions and event source mappings); GetAccountSettings.
//! - Invoke (RequestResponse, Event, DryRun; LogType=Tail), InvokeAsync and
//!   InvokeWithResponseStream (`stream`: the buffered response as 32 KiB
//!   PayloadChunk events, then InvokeComplete with ErrorCode/ErrorDetails/LogResult).
//! - Function URLs (`urls`, `url_http`): Create/Get/Update/Delete/
//!   ListFunctionUrlConfigs, served as real HTTP endpoints (see below).
//! - Code signing configs (`csc`): Create/Get/List/Update/DeleteCodeSigningConfig,
//!   Put/Get/DeleteFunctionCodeSigningConfig, ListFunctionsByCodeSigningConfig;
//!   stored and persisted, never enforced (there is no AWS Signer).
//! - Event source mappings for SQS (standard and FIFO): Create/Get/Update/
//!   Delete/ListEventSourceMappings with pollers (see `esm`).
//!
//! # Execution
//! Each execution environment is one process (`envs`) with its own Runtime API
//! endpoint on 127.0.0.1 (crate `stratus-lambda-runtime`). Python and Node.js
//! functions run under runtime clients shipped here (`bootstrap/`, written to
//! `<data-dir>/lambda/runtimes/` at start-up); `provided.*` functions run their
//! own `bootstrap`. Environments are reused while warm, created up to the
//! concurrency limits, stopped after 5 minutes idle, after a timeout, a crash,
//! or a code/configuration change. The init phase has the documented 10 s limit.
//! Interpreter rule (`runtimes`): `pythonX.Y` uses a `pythonX.Y` binary on PATH,
//! else `python3` if it is exactly X.Y; `nodejsNN.x` needs `node` vNN; a missing
//! interpreter makes the function `Failed` with a StateReason naming it, and
//! Invoke answers ResourceConflictException with that reason.
//! Output (stdout and stderr, one pipe) and the START/END/REPORT lines go to
//! CloudWatch Logs (`/aws/lambda/<name>`, stream `YYYY/MM/DD/[$LATEST]<hex>`)
//! through the registry's `logs` service, batched every 100 ms.
//!
//! # Local-code mode
//! `Code={"S3Bucket": "stratus-local", "S3Key": "/absolute/dir"}` runs the code
//! from that directory in place; when the directory tree's newest mtime or entry
//! count changes, idle environments are replaced on the next invocation.
//!
//! # Known divergences and decisions where the documentation is silent
//! - S3 code locations other than local-code mode are refused
//!   (InvalidParameterValueException naming the bucket and key): Stratus has no
//!   S3 yet. Container images (PackageType Image) are refused.
//! - CreateFunction answers `State: Pending`, UpdateFunction* answer
//!   `LastUpdateStatus: InProgress`; every later read sees Active/Successful
//!   (the boto3 waiters `function_active_v2`/`function_updated_v2` pass at once).
//! - Layers are unpacked under `<data-dir>/lambda/unpacked/`. As root (with
//!   `unshare`), environments get them as a read-only `/opt` in a private mount
//!   namespace, a private `/tmp`, and a memory cgroup limited to MemorySize
//!   (`sandbox.rs`). Otherwise they are reached through PYTHONPATH
//!   (`<layer>/python`, `<layer>/python/lib/pythonX.Y/site-packages`), NODE_PATH
//!   (`<layer>/nodejs/node_modules`), LD_LIBRARY_PATH (`<layer>/lib`) and a
//!   layer's `bootstrap`, later layers first; `/tmp` is per environment via
//!   TMPDIR (and HOME) only, and memory is not limited (RLIMIT_AS breaks V8);
//!   `Max Memory Used` is then the process's peak RSS (VmHWM).
//! - SDKs inside functions: `boto3` / AWS SDK v3 are found if the interpreter
//!   has them or under `<data-dir>/lambda/runtimes/python` and
//!   `<data-dir>/lambda/runtimes/nodejs/node_modules` (install with
//!   `pip install --target` / `npm install --prefix`); functions get
//!   AWS_ENDPOINT_URL pointing at Stratus, the account id as access key.
//! - Asynchronous retries wait ~1 and ~2 minutes as on AWS, multiplied by
//!   `STRATUS_LAMBDA_ASYNC_RETRY_SCALE` (default 1). Throttled events are retried
//!   every second without using a retry.
//! - TooManyRequestsException carries AWS's message but not its `Reason` field.
//! - Event source mappings: SQS only; five pollers per mapping unless
//!   ScalingConfig.MaximumConcurrency says otherwise; a batch whose
//!   `batchItemFailures` names an unknown id fails as a whole.
//! - Extensions: every executable in a layer's `extensions/` folder is an
//!   external extension (started before the runtime, same environment); the
//!   runtime process may register internal ones. The Extensions, Logs and
//!   Telemetry APIs are served by `stratus-lambda-runtime`; the Invoke answer
//!   waits until every extension is back in `/event/next`.
//! - Not implemented: durable executions, capacity providers (they answer
//!   NotImplemented).
//!
//! # Function URLs
//! A URL is `http://<url-id>.lambda-url.<region>.localhost:<port>/`, routed by
//! the Host header (`.on.aws` hosts are accepted too); clients that cannot
//! resolve `*.localhost` use `http://<stratus>/_stratus/lambda/url/<url-id>/<path>`.
//! The event is payload format 2.0; an answer with `statusCode` is mapped to
//! status, headers, cookies and (base64) body, anything else is a 200 JSON
//! body. Enforced as AWS describes: `AWS_IAM` needs a SigV4 signature (verified
//! under `--auth verify`) and the function's own account or a resource-policy
//! statement allowing `lambda:InvokeFunctionUrl` to the caller's account;
//! `NONE` needs the public `lambda:InvokeFunctionUrl` statement (Principal `*`,
//! `FunctionUrlAuthType NONE`), which the API does not add by itself. Not
//! enforced: the newer requirement of a second `lambda:InvokeFunction`
//! statement. Decisions where AWS is silent: unknown URL ids answer 404
//! `{"Message":"Not Found"}`; function errors and malformed answers 502
//! `{"Message":"Internal Server Error"}`; throttling 429. `RESPONSE_STREAM`
//! URLs answer like `BUFFERED` ones (the response is buffered).
//! - Concurrent updates of one function are serialised in memory; their store
//!   writes are ordered by completion of the lock, not re-checked.
mod asyncq;
mod code;
mod csc;
mod envs;
mod errors;
mod esm;
mod generated;
mod invoke;
mod logs;
mod names;
mod ops_config;
mod ops_functions;
mod ops_layers;
mod ops_versions;
mod persist;
mod runtimes;
mod sandbox;
mod service;
mod state;
mod stream;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
mod url_http;
mod urls;

pub use generated::LambdaClient;
pub use ops_functions::LOCAL_CODE_BUCKET;
pub use runtimes::ManagedRuntimes;
pub use service::{LambdaConfig, LambdaService};
