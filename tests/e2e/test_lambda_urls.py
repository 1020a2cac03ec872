"""Lambda function URLs: the config operations (boto3 and the AWS CLI) and the
URLs themselves as real HTTP endpoints (payload format 2.0, auth types, CORS,
error mapping, persistence)."""
import base64
import json
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lambda_fixtures.helpers import create_function, zip_files

APP = r"""
import base64, json
def handler(event, context):
    path = event["rawPath"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/plain":
        return {"just": "json"}
    if path == "/text":
        return "hello"
    if path == "/custom":
        return {"statusCode": 418, "headers": {"X-Tea": "pot", "Content-Type": "text/plain",
                "Access-Control-Allow-Origin": "https://evil.example"},
                "cookies": ["a=1; Path=/", "b=2"], "body": "short and stout"}
    if path == "/binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes([0, 1, 2, 255])).decode(), "isBase64Encoded": True}
    if path == "/bad":
        return {"statusCode": "not a number"}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "arn": context.invoked_function_arn})}
"""


@pytest.fixture
def lam(stratus):
    return stratus.client("lambda")


def err(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def make_function(lam, name):
    create_function(lam, name, zip_files({"app.py": APP}))


def public(lam, name, qualifier=None):
    kw = {"Qualifier": qualifier} if qualifier else {}
    lam.add_permission(FunctionName=name, StatementId="FunctionURLAllowPublicAccess",
                       Action="lambda:InvokeFunctionUrl", Principal="*", FunctionUrlAuthType="NONE", **kw)


def via_host(url, path="/", method="GET", **kw):
    """Call a function URL by connecting to Stratus with the URL's Host header
    (Python's resolver does not map *.localhost to the loopback address)."""
    parts = urlsplit(url)
    headers = dict(kw.pop("headers", {}) or {})
    headers["Host"] = parts.netloc
    return requests.request(method, f"http://127.0.0.1:{parts.port}{path}", headers=headers, timeout=30, **kw)


def signed(url, path="/", method="GET", body=b"", access_key="test", headers=None):
    """A SigV4-signed raw request (service lambda), as awscurl would send it."""
    parts = urlsplit(url)
    h = {"Host": parts.netloc, **(headers or {})}
    req = AWSRequest(method=method, url=f"http://{parts.netloc}{path}", data=body, headers=h)
    SigV4Auth(Credentials(access_key, "test"), "lambda", "us-east-1").add_auth(req)
    return requests.request(method, f"http://127.0.0.1:{parts.port}{path}", headers=dict(req.headers.items()),
                            data=body, timeout=30)


def test_url_config_crud_and_errors(lam, stratus, unique_name):
    name = unique_name("url")
    make_function(lam, name)
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-tea"], "MaxAge": 300, "AllowCredentials": True}
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors=cors)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    parts = urlsplit(url)
    url_id = parts.hostname.split(".")[0]
    assert parts.hostname == f"{url_id}.lambda-url.us-east-1.localhost" and len(url_id) == 32
    assert parts.port == stratus.port and url.endswith("/")
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"
    assert created["Cors"] == cors and created["CreationTime"]
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    code, msg = err(e)
    assert code == "ResourceConflictException" and "FunctionUrlConfig exists" in msg
    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == url and got["LastModifiedTime"]
    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM", InvokeMode="RESPONSE_STREAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["FunctionUrl"] == url and updated["Cors"] == cors
    # An alias gets its own URL; versions and $LATEST are not valid qualifiers.
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    aliased = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    assert aliased["FunctionArn"].endswith(f"function:{name}:live") and aliased["FunctionUrl"] != url
    for q in ["1", "$LATEST"]:
        with pytest.raises(ClientError) as e:
            lam.create_function_url_config(FunctionName=name, Qualifier=q, AuthType="NONE")
        assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName=name, Qualifier="nope", AuthType="NONE")
    assert err(e)[0] == "ResourceNotFoundException"
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert sorted(c["FunctionUrl"] for c in listed) == sorted([url, aliased["FunctionUrl"]])
    page = lam.list_function_url_configs(FunctionName=name, MaxItems=1)
    assert len(page["FunctionUrlConfigs"]) == 1 and page["NextMarker"]
    # Deleting the alias deletes its URL.
    lam.delete_alias(FunctionName=name, Name="live")
    assert len(lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]) == 1
    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=name)
    assert err(e) == ("ResourceNotFoundException", "The resource you requested does not exist.")
    with pytest.raises(ClientError) as e:
        lam.delete_function_url_config(FunctionName=name)
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName=unique_name("missing"), AuthType="NONE")
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName=name, AuthType="BASIC")
    assert err(e)[0] == "ValidationException"
    # The URL is gone: its host answers 404.
    assert via_host(url).status_code == 404


def test_url_config_with_the_cli(stratus, unique_name):
    lam = stratus.client("lambda")
    name = unique_name("cli")
    make_function(lam, name)
    out = stratus.cli("lambda", "create-function-url-config", "--function-name", name, "--auth-type", "NONE",
                      "--cors", json.dumps({"AllowOrigins": ["*"]})).json
    assert out["AuthType"] == "NONE" and out["Cors"] == {"AllowOrigins": ["*"]}
    got = stratus.cli("lambda", "get-function-url-config", "--function-name", name).json
    assert got["FunctionUrl"] == out["FunctionUrl"]
    listed = stratus.cli("lambda", "list-function-url-configs", "--function-name", name).json
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [out["FunctionUrl"]]
    upd = stratus.cli("lambda", "update-function-url-config", "--function-name", name, "--auth-type", "AWS_IAM").json
    assert upd["AuthType"] == "AWS_IAM"
    stratus.cli("lambda", "delete-function-url-config", "--function-name", name)
    missing = stratus.cli("lambda", "get-function-url-config", "--function-name", name, check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_public_url_event_and_response_mapping(lam, stratus, unique_name):
    name = unique_name("pub")
    make_function(lam, name)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    url_id = urlsplit(url).hostname.split(".")[0]
    # NONE still needs the public resource-policy statement, as on AWS.
    denied = via_host(url, "/x")
    assert denied.status_code == 403 and denied.json() == {"Message": "Forbidden"}
    public(lam, name)
    r = via_host(url, "/some/path", method="POST", params=[("a", "1"), ("a", "2"), ("b", "x y")],
                 data=b'{"hello": "url"}',
                 headers={"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "User-Agent": "stratus-test",
                          "X-Multi": "one"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["x-amzn-RequestId"]
    body = r.json()
    ev = body["event"]
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/some/path" and ev["rawQueryString"] == "a=1&a=2&b=x+y"
    assert ev["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert ev["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in ev["headers"]
    assert ev["headers"]["x-multi"] == "one" and ev["headers"]["content-type"] == "application/json"
    assert ev["headers"]["host"] == urlsplit(url).netloc
    assert ev["body"] == '{"hello": "url"}' and ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["accountId"] == "anonymous" and rc["apiId"] == url_id and rc["domainPrefix"] == url_id
    assert rc["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert rc["http"] == {"method": "POST", "path": "/some/path", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "stratus-test"}
    assert rc["routeKey"] == "$default" and rc["stage"] == "$default" and rc["requestId"]
    assert isinstance(rc["timeEpoch"], int) and rc["time"].endswith("+0000")
    assert "authorizer" not in rc
    # Binary request bodies arrive base64-encoded.
    ev = via_host(url, "/b", method="PUT", data=bytes([0, 200, 1]),
                  headers={"Content-Type": "application/octet-stream"}).json()["event"]
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == bytes([0, 200, 1])
    assert "queryStringParameters" not in ev
    # Response mapping.
    plain = via_host(url, "/plain")
    assert plain.status_code == 200 and plain.json() == {"just": "json"}
    assert plain.headers["content-type"] == "application/json"
    text = via_host(url, "/text")
    assert text.status_code == 200 and text.json() == "hello"
    custom = via_host(url, "/custom")
    assert custom.status_code == 418 and custom.text == "short and stout"
    assert custom.headers["x-tea"] == "pot" and custom.headers["content-type"] == "text/plain"
    assert custom.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]
    binary = via_host(url, "/binary")
    assert binary.status_code == 200 and binary.content == bytes([0, 1, 2, 255])
    # Function errors and malformed answers are 502s.
    boom = via_host(url, "/boom")
    assert boom.status_code == 502 and boom.json() == {"Message": "Internal Server Error"}
    assert via_host(url, "/bad").status_code == 502
    # The path form reaches the same URL without a resolvable host name.
    by_path = requests.get(f"{stratus.endpoint}/_stratus/lambda/url/{url_id}/via/path?q=1", timeout=30)
    assert by_path.status_code == 200 and by_path.json()["event"]["rawPath"] == "/via/path"
    assert by_path.json()["event"]["queryStringParameters"] == {"q": "1"}
    # The unmodified FunctionUrl works with a client that maps *.localhost to
    # the loopback address (curl does, as browsers do).
    curl = shutil.which("curl")
    if curl:
        out = subprocess.run([curl, "-s", f"{url}plain"], capture_output=True, text=True, timeout=30)
        assert json.loads(out.stdout) == {"just": "json"}


def test_alias_url_invokes_the_alias(lam, stratus, unique_name):
    name = unique_name("alias")
    make_function(lam, name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    url = lam.create_function_url_config(FunctionName=name, Qualifier="prod", AuthType="NONE")["FunctionUrl"]
    # A statement on the unqualified function does not open the alias's URL.
    public(lam, name)
    assert via_host(url).status_code == 403
    public(lam, name, qualifier="prod")
    r = via_host(url, "/")
    assert r.status_code == 200 and r.json()["arn"].endswith(f"function:{name}:prod")


def test_iam_url_requires_sigv4(lam, stratus, unique_name):
    name = unique_name("iam")
    make_function(lam, name)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    assert via_host(url, "/").status_code == 403
    # Same-account callers are allowed by their identity policy.
    r = signed(url, "/p", method="POST", body=b"signed body", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    ev = r.json()["event"]
    assert ev["body"] == "signed body"
    iam = ev["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "test" and iam["accountId"] == "000000000000"
    assert ev["requestContext"]["accountId"] == "000000000000"
    # Another account needs a resource-policy statement.
    assert signed(url, "/", access_key="111122223333").status_code == 403
    lam.add_permission(FunctionName=name, StatementId="other", Action="lambda:InvokeFunctionUrl",
                       Principal="111122223333", FunctionUrlAuthType="AWS_IAM")
    r = signed(url, "/", access_key="111122223333")
    assert r.status_code == 200 and r.json()["event"]["requestContext"]["authorizer"]["iam"]["accountId"] == "111122223333"


def test_iam_url_with_verified_signatures(fresh_stratus, unique_name):
    server = fresh_stratus(extra_args=["--auth", "verify", "--credentials", "test:test,AKIDOTHER:secret2"])
    lam = server.client("lambda")
    name = unique_name("verify")
    make_function(lam, name)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    assert signed(url, "/ok").status_code == 200
    # A signature made with the wrong secret is refused.
    parts = urlsplit(url)
    req = AWSRequest(method="GET", url=f"http://{parts.netloc}/ok", headers={"Host": parts.netloc})
    SigV4Auth(Credentials("test", "wrong-secret"), "lambda", "us-east-1").add_auth(req)
    bad = requests.get(f"http://127.0.0.1:{parts.port}/ok", headers=dict(req.headers.items()), timeout=30)
    assert bad.status_code == 403


def test_cors_preflight_and_headers(lam, stratus, unique_name):
    name = unique_name("cors")
    make_function(lam, name)
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="AWS_IAM",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
              "AllowHeaders": ["x-custom", "content-type"], "ExposeHeaders": ["x-tea"], "MaxAge": 600,
              "AllowCredentials": True})["FunctionUrl"]
    # Preflights are answered by Lambda without auth and without invoking.
    pre = via_host(url, "/custom", method="OPTIONS",
                   headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                            "Access-Control-Request-Headers": "x-custom"})
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    assert pre.headers["access-control-allow-methods"] == "GET,POST"
    assert pre.headers["access-control-allow-headers"] == "x-custom,content-type"
    assert pre.headers["access-control-max-age"] == "600"
    assert pre.headers["access-control-allow-credentials"] == "true"
    other = via_host(url, "/", method="OPTIONS",
                     headers={"Origin": "https://other.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
    # Actual responses carry the URL's CORS headers, replacing the function's.
    r = signed(url, "/custom", headers={"Origin": "https://app.example"})
    assert r.status_code == 418
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert r.headers["access-control-expose-headers"] == "x-tea"
    assert r.headers["access-control-allow-credentials"] == "true"


def test_url_configs_survive_restart(fresh_stratus, unique_name):
    server = fresh_stratus()
    lam = server.client("lambda")
    name = unique_name("persist")
    make_function(lam, name)
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors={"AllowOrigins": ["*"]})
    public(lam, name)
    url_id = urlsplit(created["FunctionUrl"]).hostname.split(".")[0]
    server.kill9()
    server.start()
    lam = server.client("lambda")
    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == created["FunctionUrl"] and got["Cors"] == {"AllowOrigins": ["*"]}
    r = requests.get(f"{server.endpoint}/_stratus/lambda/url/{url_id}/plain", timeout=30)
    assert r.status_code == 200 and r.json() == {"just": "json"}
