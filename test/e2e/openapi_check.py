"""Helpers of the API suite: the OpenAPI document as a response checker, a
small HTTP client that checks every reply against it, a Server-Sent Events
reader and a Prometheus text-format parser.

Every reply the API tests look at goes through Spec.check_response: the
operation is found by method and path template, the response by status, the
body is validated with jsonschema against the response schema ($refs
resolved, OpenAPI 3.0 `nullable` turned into JSON-Schema type lists), and
the documented required headers must be there. A route, method, status,
content type, header or body the document does not describe fails the test.
"""
import codecs
import copy
import http.client
import json
import os
import re
import socket
import time
import urllib.parse

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OPENAPI_PATH = os.path.join(REPO, "services", "orchestrator", "web", "openapi.json")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# docs/API.md, "Errors": the codes each error status may carry.
ERROR_CODES = {
    400: {"bad_request"}, 401: {"unauthorized"}, 403: {"csrf"}, 404: {"not_found"},
    405: {"method_not_allowed"}, 409: {"conflict"}, 413: {"too_large"},
    415: {"unsupported_media_type"}, 429: {"queue_full"}, 503: {"busy", "stopping"},
}


class SpecError(AssertionError):
    """The reply is not what the OpenAPI document describes."""


# --- the document ------------------------------------------------------------

def resolve_pointer(doc, ref):
    if not ref.startswith("#/"):
        raise SpecError(f"only local $refs are supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SpecError(f"$ref does not resolve: {ref}")
        node = node[part]
    return node


def all_refs(node, path="#"):
    """Every ($ref, where) in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v, path
            else:
                yield from all_refs(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_refs(v, f"{path}/{i}")


def to_json_schema(schema, doc, seen=()):
    """An OpenAPI 3.0 schema object as a self-contained JSON Schema (draft 4):
    $refs inlined, `nullable: true` as a type list (and null in an enum)."""
    if isinstance(schema, list):
        return [to_json_schema(s, doc, seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            raise SpecError(f"recursive schema {ref} is not supported by the checker")
        return to_json_schema(resolve_pointer(doc, ref), doc, seen + (ref,))
    out = {}
    for k, v in schema.items():
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {name: to_json_schema(s, doc, seen) for name, s in v.items()}
        elif k in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[k] = to_json_schema(v, doc, seen)
        elif k in ("nullable", "example", "examples", "discriminator", "readOnly",
                   "writeOnly", "xml", "externalDocs", "deprecated") or k.startswith("x-"):
            continue
        else:
            out[k] = copy.deepcopy(v)
    if schema.get("nullable") is True:
        if "type" in out:
            t = out["type"]
            out["type"] = (t if isinstance(t, list) else [t]) + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
        if "type" not in out and "enum" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    def __init__(self, doc):
        self.doc = doc
        self.routes = []            # (regex, template, path item), literal routes first
        for template, item in doc["paths"].items():
            rx = "^"
            for piece in re.split(r"(\{[^}]+\})", template):
                if piece.startswith("{"):
                    # The last parameter of a route may hold slashes (file paths).
                    rx += "(.+)" if template.endswith(piece) and piece == "{path}" else "([^/]+)"
                else:
                    rx += re.escape(piece)
            rx += "$"
            self.routes.append((re.compile(rx), template, item))
        self.routes.sort(key=lambda r: (r[1].count("{"), -len(r[1])))
        self._validators = {}

    @classmethod
    def load(cls, path=OPENAPI_PATH):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    # -- lookup --
    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = resolve_pointer(self.doc, node["$ref"])
        return node

    def route(self, path):
        """(template, path item) of a request path (no query), or (None, None)."""
        for rx, template, item in self.routes:
            if rx.match(path):
                return template, item
        return None, None

    def operation(self, method, path):
        template, item = self.route(path)
        if item is None:
            return None, None, None
        m = method.lower()
        if m == "head" and "head" not in item:
            m = "get"
        return template, item, item.get(m)

    def validator(self, schema):
        # Schemas are objects of self.doc (or kept here with their validator).
        hit = self._validators.get(id(schema))
        if hit is None:
            js = to_json_schema(schema, self.doc)
            jsonschema.Draft4Validator.check_schema(js)
            hit = (schema, jsonschema.Draft4Validator(js))
            self._validators[id(schema)] = hit
        return hit[1]

    def validate(self, instance, schema, what):
        validator = self.validator(schema)
        if validator.is_valid(instance):
            return
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            lines = [f"{what}: {len(errors)} schema error(s):"]
            for e in errors[:8]:
                where = "/".join(str(p) for p in e.absolute_path) or "(root)"
                lines.append(f"  at {where}: {e.message[:300]}")
            lines.append("  instance: " + json.dumps(instance)[:1500])
            raise SpecError("\n".join(lines))

    def schema(self, name):
        return {"$ref": "#/components/schemas/" + name}

    def allowed_methods(self, template):
        item = self.doc["paths"][template]
        return {m.upper() for m in METHODS if m in item}

    # -- the check --
    def check_response(self, method, url_path, status, headers, body, request_body=None,
                       request_ctype=None):
        """Raise SpecError unless the document describes this reply. body is
        the parsed JSON for JSON replies, else bytes (None: not read, e.g. SSE)."""
        path = urllib.parse.urlsplit(url_path).path
        template, item, op = self.operation(method, path)
        what = f"{method} {url_path} -> {status}"
        hdrs = {k.lower(): v for k, v in headers.items()}
        ctype = hdrs.get("content-type", "").split(";")[0].strip().lower()
        if item is None:
            # No such route: the document's 404 error, nothing else.
            if status != 404:
                raise SpecError(f"{what}: the document has no route {path} (only 404 fits)")
            self._check_error(what, status, ctype, body)
            return None
        if op is None:
            if status != 405:
                raise SpecError(f"{what}: the document has no {method} on {template}"
                                f" (only 405 fits)")
            self._check_error(what, status, ctype, body)
            allow = {m.strip().upper() for m in hdrs.get("allow", "").split(",") if m.strip()}
            documented = self.allowed_methods(template)
            if allow - {"HEAD", "OPTIONS"} != documented - {"HEAD", "OPTIONS"}:
                raise SpecError(f"{what}: Allow {sorted(allow)} but the document has"
                                f" {sorted(documented)}")
            return None
        responses = op["responses"]
        resp = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") \
            or responses.get("default")
        if resp is None:
            raise SpecError(f"{what}: status {status} is not documented for {method} {template}"
                            f" (documented: {sorted(responses)})")
        resp = self.deref(resp)
        for name, h in (resp.get("headers") or {}).items():
            h = self.deref(h)
            value = hdrs.get(name.lower())
            if value is None:
                if h.get("required"):
                    raise SpecError(f"{what}: required header {name} is missing"
                                    f" (headers: {headers})")
                continue
            if "schema" in h:
                self.validate(value, h["schema"], f"{what}: header {name}")
        if status >= 400:
            codes = ERROR_CODES.get(status)
            if codes and isinstance(body, dict) and "error" in body:
                code = (body["error"] or {}).get("code")
                if code not in codes:
                    raise SpecError(f"{what}: error code {code!r}, docs/API.md says {codes}")
        content = resp.get("content")
        if not content:
            if body not in (None, b"", ""):
                raise SpecError(f"{what}: the document has no body here, got {body!r:.200}")
            return resp
        if method.upper() == "HEAD":
            return resp
        media = None
        for mt, m in content.items():
            if mt.lower() == ctype:
                media = m
        if media is None:
            raise SpecError(f"{what}: Content-Type {hdrs.get('content-type')!r} is not one of"
                            f" {sorted(content)}")
        if body is not None and ctype.endswith("json") and "schema" in media:
            self.validate(body, media["schema"], what)
        # A request that the server accepted must be one the document allows.
        if 200 <= status < 300 and request_body is not None and "requestBody" in op:
            rb = self.deref(op["requestBody"])
            rmt = (request_ctype or "application/json").split(";")[0].strip().lower()
            rmedia = rb["content"].get(rmt)
            if rmedia is None:
                raise SpecError(f"{what}: accepted a {rmt} body; the document says"
                                f" {sorted(rb['content'])}")
            if isinstance(request_body, (dict, list)):
                self.validate(request_body, rmedia["schema"], what + " (request body)")
        return resp

    def _check_error(self, what, status, ctype, body):
        if ctype != "application/json":
            raise SpecError(f"{what}: an error reply must be application/json, got {ctype!r}")
        if body is not None:
            self.validate(body, self.schema("Error"), what)
            codes = ERROR_CODES.get(status)
            if codes and body["error"]["code"] not in codes:
                raise SpecError(f"{what}: error code {body['error']['code']!r},"
                                f" docs/API.md says {codes}")

    def sse_schemas(self, method, path, status=200):
        """event name -> schema of its data, from x-sse-events."""
        _, _, op = self.operation(method, urllib.parse.urlsplit(path).path)
        resp = self.deref(op["responses"][str(status)])
        return resp["content"]["text/event-stream"]["x-sse-events"]

    def check_event(self, path, event):
        schemas = self.sse_schemas("GET", path)
        if event.event not in schemas:
            raise SpecError(f"GET {path}: event {event.event!r} is not in the document"
                            f" ({sorted(schemas)})")
        self.validate(event.json(), schemas[event.event], f"GET {path}: event {event.event}")


def check_document(doc):
    """Structural checks of an OpenAPI 3.0 document (no validator package on
    the machine): returns a list of problems, empty when it is fine."""
    problems = []
    if not str(doc.get("openapi", "")).startswith("3.0."):
        problems.append("openapi must be 3.0.x")
    info = doc.get("info") or {}
    if not info.get("title") or not info.get("version"):
        problems.append("info needs title and version")
    if not isinstance(doc.get("paths"), dict) or not doc["paths"]:
        problems.append("paths is missing or empty")
        return problems
    for ref, where in all_refs(doc):
        try:
            resolve_pointer(doc, ref)
        except SpecError as e:
            problems.append(f"{where}: {e}")
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    op_ids = set()

    def check_security(sec, where):
        for req in sec or []:
            for name in req:
                if name not in schemes:
                    problems.append(f"{where}: unknown security scheme {name}")

    check_security(doc.get("security"), "#/security")
    spec = Spec(doc)
    for template, item in doc["paths"].items():
        if not template.startswith("/"):
            problems.append(f"path {template} must start with /")
        names = set(re.findall(r"\{([^}]+)\}", template))
        declared = set()
        for p in item.get("parameters", []):
            p = spec.deref(p)
            if p.get("in") == "path":
                declared.add(p["name"])
        for m in METHODS:
            op = item.get(m)
            if op is None:
                continue
            where = f"{m.upper()} {template}"
            ops_declared = set(declared)
            for p in op.get("parameters", []):
                p = spec.deref(p)
                if "name" not in p or p.get("in") not in ("query", "header", "path", "cookie"):
                    problems.append(f"{where}: bad parameter {p}")
                if p.get("in") == "path":
                    ops_declared.add(p["name"])
                    if p.get("required") is not True:
                        problems.append(f"{where}: path parameter {p['name']} must be required")
            if ops_declared != names:
                problems.append(f"{where}: path parameters {sorted(ops_declared)} vs template"
                                f" {sorted(names)}")
            oid = op.get("operationId")
            if not oid or oid in op_ids:
                problems.append(f"{where}: operationId missing or duplicated")
            op_ids.add(oid)
            check_security(op.get("security"), where)
            if not op.get("responses"):
                problems.append(f"{where}: no responses")
            for code, resp in (op.get("responses") or {}).items():
                if not re.fullmatch(r"[1-5][0-9][0-9]|[1-5]XX|default", code):
                    problems.append(f"{where}: bad response key {code}")
                resp = spec.deref(resp)
                if "description" not in resp:
                    problems.append(f"{where} {code}: response needs a description")
                for mt, media in (resp.get("content") or {}).items():
                    if "schema" in media:
                        try:
                            jsonschema.Draft4Validator.check_schema(
                                to_json_schema(media["schema"], doc))
                        except (jsonschema.SchemaError, SpecError) as e:
                            problems.append(f"{where} {code} {mt}: {str(e)[:200]}")
    for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
        try:
            jsonschema.Draft4Validator.check_schema(to_json_schema(schema, doc))
        except (jsonschema.SchemaError, SpecError) as e:
            problems.append(f"components/schemas/{name}: {str(e)[:200]}")
    return problems


# --- an HTTP client that checks every reply ------------------------------------

class Reply:
    def __init__(self, status, headers, raw, body, set_cookies):
        self.status = status
        self.headers = headers          # case-insensitive lookups with .header()
        self.raw = raw
        self.body = body                # JSON when the reply is JSON, else bytes
        self.set_cookies = set_cookies  # every Set-Cookie value

    def header(self, name, default=None):
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return default

    def __repr__(self):
        return f"<Reply {self.status} {self.headers} {self.raw[:400]!r}>"


class Api:
    """HTTP to one orchestrator; every reply is checked against the document
    (check=False only for the few raw probes that test the checker itself)."""

    def __init__(self, url, token, spec):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.spec = spec
        self.log = []                   # (method, path, status) of every request

    def keepalive(self):
        """Reuse one connection for the requests that follow (bulk loads);
        close () goes back to one connection per request."""
        self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return self

    def close(self):
        conn, self._conn = getattr(self, "_conn", None), None
        if conn:
            conn.close()

    def request(self, method, path, body=None, token=True, headers=None, timeout=30,
                cookie=None, csrf=None, check=True, ctype=None):
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", ctype or "application/json")
        if token is True:
            token = self.token
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if cookie:
            hdrs["Cookie"] = cookie
        if csrf:
            hdrs["X-CSRF-Token"] = csrf
        kept = getattr(self, "_conn", None)
        conn = kept or http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            headers_out = {}
            for k, v in resp.getheaders():
                if k.lower() in headers_out:
                    headers_out[k.lower()] += ", " + v
                else:
                    headers_out[k.lower()] = v
            set_cookies = resp.msg.get_all("Set-Cookie") or []
            status = resp.status
        finally:
            if not kept:
                conn.close()
        ctype_out = headers_out.get("content-type", "").split(";")[0].strip().lower()
        parsed = raw
        if ctype_out.endswith("json") and raw:
            try:
                parsed = json.loads(raw)
            except ValueError as e:
                raise SpecError(f"{method} {path} -> {status}: Content-Type {ctype_out} but the"
                                f" body is not JSON ({e}): {raw[:300]!r}")
        reply = Reply(status, headers_out, raw, parsed, set_cookies)
        self.log.append((method, path, status))
        if check:
            req_json = body if isinstance(body, (dict, list)) else None
            self.spec.check_response(method, path, status, headers_out,
                                     parsed if method != "HEAD" else None,
                                     request_body=req_json,
                                     request_ctype=hdrs.get("Content-Type"))
        return reply

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


# --- Server-Sent Events ---------------------------------------------------------

class Event:
    def __init__(self, id, event, data, at):
        self.id = id
        self.event = event
        self.data = data
        self.at = at                    # time.monotonic () when it was complete

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return f"<Event id={self.id} {self.event} {self.data[:200]}>"


class SSE:
    """A raw-socket reader of one text/event-stream reply (chunked or not)."""

    def __init__(self, host, port, path, headers=None, timeout=10.0):
        self.path = path
        self.sock = socket.create_connection((host, port), timeout=timeout)
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream",
                 "Cache-Control: no-cache"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.text = ""                  # decoded body not yet parsed into lines
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.eof = False
        self.comments = []
        self._field = {}
        head = self._read_until(b"\r\n\r\n", timeout)
        status_line, *hlines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {}
        for line in hlines:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.length = int(self.headers["content-length"]) if "content-length" in self.headers \
            else None
        self.raw_body = b""

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError
        if not data:
            self.eof = True
        return data

    def _read_until(self, marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            data = self._recv(deadline)
            if not data:
                raise EOFError(f"connection closed before {marker!r}: {self.buf[:300]!r}")
            self.buf += data
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _body_bytes(self, deadline):
        """More body bytes (b"" at the end of the reply)."""
        if not self.chunked:
            if self.buf:
                data, self.buf = self.buf, b""
                return data
            if self.eof or (self.length is not None and len(self.raw_body) >= self.length):
                return b""
            return self._recv(deadline)
        while True:
            if b"\r\n" in self.buf:
                size_line, _, rest = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self.eof = True
                    return b""
                if len(rest) >= size + 2:
                    self.buf = rest[size + 2:]
                    return rest[:size]
            if self.eof:
                return b""
            data = self._recv(deadline)
            if not data:
                return b""
            self.buf += data

    def body(self, timeout=5.0):
        """The whole (non-stream) body, for error replies."""
        deadline = time.monotonic() + timeout
        out = b""
        while True:
            data = self._body_bytes(deadline)
            if not data:
                return out
            out += data
            if self.length is not None and len(out) >= self.length:
                return out

    def next_event(self, timeout=5.0):
        """The next complete event, or None when the stream ended. Raises
        TimeoutError when nothing complete came in time."""
        deadline = time.monotonic() + timeout
        while True:
            while "\n" in self.text:
                line, _, self.text = self.text.partition("\n")
                line = line.rstrip("\r")
                if line == "":
                    if "data" in self._field or "event" in self._field:
                        f, self._field = self._field, {}
                        return Event(f.get("id"), f.get("event", "message"),
                                     "\n".join(f.get("data", [])), time.monotonic())
                    self._field = {}
                    continue
                if line.startswith(":"):
                    self.comments.append((line[1:].strip(), time.monotonic()))
                    continue
                name, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if name == "data":
                    self._field.setdefault("data", []).append(value)
                elif name in ("id", "event", "retry"):
                    self._field[name] = value
            data = self._body_bytes(deadline)
            if not data:
                return None
            self.raw_body += data
            self.text += self._decoder.decode(data)

    def events(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < count:
            ev = self.next_event(max(0.01, deadline - time.monotonic()))
            if ev is None:
                break
            out.append(ev)
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- Prometheus text format -------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?[0-9]+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_labels(text):
    labels = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise ValueError(f"bad labels: {text!r}")
        labels[m.group(1)] = m.group(2).encode().decode("unicode_escape")
        pos = m.end()
    return labels


def parse_prometheus(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; raises
    ValueError on any line that is not the text exposition format."""
    families = {}
    types = {}
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = families.setdefault(parts[2], {"type": None, "help": None, "samples": []})
                if parts[1] == "TYPE":
                    kind = parts[3].strip() if len(parts) > 3 else ""
                    if kind not in ("counter", "gauge", "histogram", "summary", "untyped"):
                        raise ValueError(f"line {n}: bad TYPE {kind!r}")
                    if fam["samples"]:
                        raise ValueError(f"line {n}: TYPE after samples of {parts[2]}")
                    fam["type"] = kind
                    types[parts[2]] = kind
                else:
                    fam["help"] = parts[3] if len(parts) > 3 else ""
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name, _, label_text, value = m.group(1), m.group(2), m.group(3), m.group(4)
        labels = parse_labels(label_text) if label_text else {}
        v = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
        fam_name = name
        for suffix in ("_bucket", "_sum", "_count", "_total", "_created"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and base in types:
                fam_name = base
                break
        families.setdefault(fam_name, {"type": None, "help": None, "samples": []})
        families[fam_name]["samples"].append((name, labels, v))
    return families


# --- shared by the API test modules ---------------------------------------------

def wait_until(fn, timeout=10.0, step=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def orchestrator_knobs(binary):
    """Environment variables the orchestrator's --help lists."""
    import subprocess
    out = subprocess.run([binary, "--help"], capture_output=True, timeout=10)
    text = (out.stdout + out.stderr).decode("utf-8", "replace")
    return re.findall(r"\b(ORCH_[A-Z0-9_]+)\b", text)
