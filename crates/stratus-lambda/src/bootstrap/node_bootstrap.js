// Stratus's Node.js runtime client for Lambda: loads `file.export` from
// LAMBDA_TASK_ROOT (CommonJS or ES module), loops over the Runtime API's /next,
// supports async and callback-style handlers, and reports errors the way AWS's
// Node.js runtime formats them.
"use strict";
const http = require("http");
const path = require("path");
const fs = require("fs");
const util = require("util");
const { pathToFileURL } = require("url");

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let currentRequestId;
// Marks the end of an invocation's output for Stratus's log capture.
const END_MARK = "\x1eSTRATUS-END\x1e\n";

function request(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: BASE + p, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ res, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      }
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function patchConsole() {
  const levels = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };
  for (const [fn, level] of Object.entries(levels)) {
    console[fn] = (...args) => {
      const msg = util.format(...args).replace(/\n/g, "\r");
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${msg}\n`);
    };
  }
}

function errorDoc(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: (err.stack || "").split("\n"),
    };
  }
  return { errorType: typeof err === "string" ? "string" : typeof err, errorMessage: String(err), trace: [] };
}

async function initError(errorType, message, trace) {
  const doc = { errorType, errorMessage: message, trace: trace || [] };
  process.stdout.write(`${new Date().toISOString()}\tundefined\tERROR\tUncaught Exception \t${JSON.stringify(doc)}\n`);
  await request("POST", "/init/error", JSON.stringify(doc), {
    "Lambda-Runtime-Function-Error-Type": errorType,
    "Content-Type": "application/json",
  });
  process.exit(1);
}

async function loadHandler() {
  const handler = process.env._HANDLER || "";
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = handler.lastIndexOf(".");
  if (dot <= 0) return initError("Runtime.MalformedHandlerName", `Bad handler ${handler}`);
  const modPath = handler.slice(0, dot);
  const names = handler.slice(dot + 1).split(".");
  const base = path.resolve(root, modPath);
  let mod;
  try {
    let file = null;
    for (const ext of [".js", ".mjs", ".cjs", ""]) {
      if (fs.existsSync(base + ext) && fs.statSync(base + ext).isFile()) { file = base + ext; break; }
    }
    if (file === null) {
      const e = new Error(`Cannot find module '${modPath}'\nRequire stack:\n- ${__filename}`);
      return initError("Runtime.ImportModuleError", `Error: Cannot find module '${modPath}'\nRequire stack:\n- ${__filename}`, (e.stack || "").split("\n"));
    }
    if (file.endsWith(".mjs")) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") mod = await import(pathToFileURL(file).href);
        else throw e;
      }
    }
  } catch (e) {
    if (e instanceof SyntaxError) return initError("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`, (e.stack || "").split("\n"));
    if (e && e.code === "MODULE_NOT_FOUND") return initError("Runtime.ImportModuleError", `Error: ${e.message}`, (e.stack || "").split("\n"));
    const d = errorDoc(e);
    return initError(d.errorType, d.errorMessage, d.trace);
  }
  let fn = mod;
  for (const n of names) fn = fn == null ? undefined : fn[n];
  if (fn === undefined && mod && mod.default) {
    fn = mod.default;
    for (const n of names) fn = fn == null ? undefined : fn[n];
  }
  if (typeof fn !== "function") {
    return initError("Runtime.HandlerNotFound", `${handler} is undefined or not exported`);
  }
  return fn;
}

function makeContext(h) {
  const deadline = Number(h["lambda-runtime-deadline-ms"] || 0);
  const ctx = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: h["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: h["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  if (h["lambda-runtime-client-context"]) ctx.clientContext = JSON.parse(h["lambda-runtime-client-context"]);
  if (h["lambda-runtime-cognito-identity"]) ctx.identity = JSON.parse(h["lambda-runtime-cognito-identity"]);
  return ctx;
}

function runHandler(fn, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    ctx.done = done;
    ctx.succeed = (r) => done(null, r);
    ctx.fail = (e) => done(e || "handled");
    try {
      const ret = fn(event, ctx, done);
      if (ret && typeof ret.then === "function") ret.then((r) => done(null, r), (e) => done(e === undefined || e === null ? new Error(String(e)) : e));
      else if (fn.length < 3) done(null, ret);
    } catch (e) {
      done(e);
    }
  });
}

async function main() {
  patchConsole();
  const fn = await loadHandler();
  for (;;) {
    const { res, body } = await request("GET", "/invocation/next");
    const h = res.headers;
    const id = h["lambda-runtime-aws-request-id"];
    currentRequestId = id;
    if (h["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
    let event;
    try {
      event = body.length ? JSON.parse(body.toString("utf8")) : null;
    } catch (e) {
      await reportError(id, { errorType: "Runtime.UnmarshalError", errorMessage: e.message, trace: [] });
      continue;
    }
    try {
      const result = await runHandler(fn, event, makeContext(h));
      const payload = result === undefined ? "null" : JSON.stringify(result);
      process.stdout.write(END_MARK);
      await request("POST", `/invocation/${id}/response`, payload === undefined ? "null" : payload, { "Content-Type": "application/json" });
    } catch (e) {
      const doc = errorDoc(e);
      process.stdout.write(`${new Date().toISOString()}\t${id}\tERROR\tInvoke Error \t${JSON.stringify(doc)}\n`);
      await reportError(id, doc);
    }
  }
}

function reportError(id, doc) {
  process.stdout.write(END_MARK);
  return request("POST", `/invocation/${id}/error`, JSON.stringify(doc), {
    "Lambda-Runtime-Function-Error-Type": doc.errorType,
    "Content-Type": "application/json",
  });
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + "\n");
  process.exit(1);
});
