"""Stratus's Python runtime client for Lambda (an implementation of the Lambda
Runtime API client: imports the handler, loops over /next, reports results and
errors in the shapes AWS's Python runtime uses)."""
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.rsplit(":", 1)
BASE = "/2018-06-01/runtime"


class _Headers(dict):
    """Response headers; names are matched case-insensitively, as in HTTP."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class _Response:
    def __init__(self, status, headers):
        self.status = status
        self.headers = headers


class _Conn:
    """One keep-alive HTTP/1.1 connection to the Runtime API. The client needs
    a handful of request shapes only; http.client would add its imports (the
    email parser) to every cold start, a cost of tens of milliseconds."""

    def __init__(self):
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the Runtime API closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def request(self, method, path, body, headers):
        if self.sock is None:
            self.sock = socket.create_connection((HOST, int(PORT)))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = body or b""
        head = ["%s %s HTTP/1.1" % (method, path), "Host: " + API, "Content-Length: %d" % len(body)]
        head.extend("%s: %s" % kv for kv in (headers or {}).items())
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        status = int(self._line().split(b" ", 2)[1])
        hdrs = _Headers()
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            hdrs[name.strip().lower()] = value.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._line().split(b";", 1)[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                parts.append(self._exact(size))
                self._exact(2)
            data = b"".join(parts)
        else:
            data = self._exact(int(hdrs.get("content-length") or 0))
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return _Response(status, hdrs), data


_conn = _Conn()


def _request(method, path, body=None, headers=None):
    for attempt in range(2):
        try:
            return _conn.request(method, BASE + path, body, headers)
        except (OSError, ValueError, IndexError):
            _conn.close()
            if attempt:
                raise


# Marks the end of an invocation's output for Stratus's log capture.
_END_MARK = "\x1eSTRATUS-END\x1e\n"


def _end_output():
    _flush()
    try:
        sys.stdout.write(_END_MARK)
    except Exception:
        pass
    _flush()


def _flush():
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass


def _error_doc(exc, request_id=None, skip_frames=1):
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    doc = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
    }
    if request_id is not None:
        doc["requestId"] = request_id
    doc["stackTrace"] = traceback.format_list(traceback.extract_tb(tb)) if tb else []
    return doc


def _log_error(doc):
    lines = ["[ERROR] %s: %s" % (doc["errorType"], doc["errorMessage"])]
    if doc.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(s.rstrip("\n") for s in doc["stackTrace"])
    sys.stdout.write("\r".join(lines) + "\n")
    _flush()


class _RequestIdFilter(logging.Filter):
    request_id = None

    def filter(self, record):
        record.aws_request_id = _RequestIdFilter.request_id
        return True


def _setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, identity):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.invoked_function_arn = invoked_arn
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms
        self.client_context = client_context
        self.identity = identity
        self.tenant_id = None

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
                "function_name=%s,memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s])"
                % (self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
                   self.memory_limit_in_mb, self.function_version, self.invoked_function_arn))


class _Obj:
    def __init__(self, d):
        for k, v in (d or {}).items():
            setattr(self, k, v)


def _init_error(error_type, message, stack=None):
    doc = {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": stack or []}
    _log_error(doc)
    _request("POST", "/init/error", json.dumps(doc).encode(),
             {"Lambda-Runtime-Function-Error-Type": error_type, "Content-Type": "application/json"})
    sys.exit(1)


def _load_handler():
    handler = os.environ.get("_HANDLER", "")
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        _init_error("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    modname = modname.replace("/", ".")
    if modname.startswith("__init__"):
        _init_error("Runtime.BadFunctionCode", "Cannot use built-in module %s as a handler module" % modname)
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        _init_error("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        _init_error("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (modname, e),
                    traceback.format_list(traceback.extract_tb(e.__traceback__)))
    except Exception as e:
        doc = _error_doc(e, skip_frames=0)
        _init_error(doc["errorType"], doc["errorMessage"], doc["stackTrace"])
    fn = getattr(module, fname, None)
    if fn is None:
        _init_error("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname))
    return fn


def main():
    _setup_logging()
    fn = _load_handler()
    while True:
        resp, body = _request("GET", "/invocation/next")
        h = resp.headers
        request_id = h.get("Lambda-Runtime-Aws-Request-Id")
        _RequestIdFilter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = h.get("Lambda-Runtime-Trace-Id") or ""
        cc = h.get("Lambda-Runtime-Client-Context")
        ci = h.get("Lambda-Runtime-Cognito-Identity")
        client_context = _Obj(json.loads(cc)) if cc else None
        identity = _Obj(json.loads(ci)) if ci else _Obj({"cognito_identity_id": None, "cognito_identity_pool_id": None})
        ctx = LambdaContext(request_id, int(h.get("Lambda-Runtime-Deadline-Ms") or 0),
                            h.get("Lambda-Runtime-Invoked-Function-Arn"), client_context, identity)
        try:
            event = json.loads(body) if body else None
        except ValueError as e:
            _report_error(request_id, {"errorMessage": "Unable to unmarshal input: %s" % e,
                                       "errorType": "Runtime.UnmarshalError", "requestId": request_id,
                                       "stackTrace": []})
            continue
        try:
            result = fn(event, ctx)
        except Exception as e:
            _report_error(request_id, _error_doc(e, request_id))
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as e:
            _report_error(request_id, {"errorMessage": "Unable to marshal response: %s" % e,
                                       "errorType": "Runtime.MarshalError", "requestId": request_id,
                                       "stackTrace": []})
            continue
        _end_output()
        _request("POST", "/invocation/%s/response" % request_id, payload, {"Content-Type": "application/json"})


def _report_error(request_id, doc):
    _log_error(doc)
    _end_output()
    _request("POST", "/invocation/%s/error" % request_id, json.dumps(doc).encode(),
             {"Lambda-Runtime-Function-Error-Type": doc["errorType"], "Content-Type": "application/json"})


if __name__ == "__main__":
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    del sys.argv[0]
    main()
