#!/usr/bin/env python3
"""Refresh models/ from botocore wheels on PyPI.

The AWS service models are Apache-2.0 (botocore). We keep them as data, with the
`documentation` strings removed so the binary stays small; nothing else is changed.
`sqs-query` is the last query-protocol edition of the SQS model: it carries the
query wire names (locationName, flattened, resultWrapper) and the query error codes
that the current JSON edition dropped, and Stratus needs both to speak
awsQueryCompatible SQS.

Usage: python3 scripts/refresh-models.py [BOTOCORE_VERSION]
"""
import gzip, hashlib, io, json, os, subprocess, sys, tempfile, zipfile

CURRENT = sys.argv[1] if len(sys.argv) > 1 else "1.44.8"
QUERY_EDITION = "1.29.165"
MODELS = {
    "sqs": (CURRENT, "sqs/2012-11-05"),
    "sqs-query": (QUERY_EDITION, "sqs/2012-11-05"),
    "sts": (CURRENT, "sts/2011-06-15"),
    "lambda": (CURRENT, "lambda/2015-03-31"),
    "s3": (CURRENT, "s3/2006-03-01"),
    "events": (CURRENT, "events/2015-10-07"),
    "sns": (CURRENT, "sns/2010-03-31"),
    "scheduler": (CURRENT, "scheduler/2021-06-30"),
    "logs": (CURRENT, "logs/2014-03-28"),
}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")


def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in ("documentation", "deprecatedMessage", "documentationUrl")}
    if isinstance(o, list):
        return [strip(x) for x in o]
    return o


def wheel(version, cache={}):
    if version not in cache:
        d = tempfile.mkdtemp()
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", d, f"botocore=={version}"])
        cache[version] = zipfile.ZipFile(os.path.join(d, os.listdir(d)[0]))
    return cache[version]


def main():
    lines = ["| model | botocore | sha256 of upstream file |", "| --- | --- | --- |"]
    for name, (version, path) in MODELS.items():
        z = wheel(version)
        names = set(z.namelist())
        member = f"botocore/data/{path}/service-2.json"
        raw = z.read(member) if member in names else gzip.decompress(z.read(member + ".gz"))
        os.makedirs(os.path.join(ROOT, name), exist_ok=True)
        with open(os.path.join(ROOT, name, "service-2.json"), "w") as f:
            json.dump(strip(json.loads(raw)), f, indent=1)
        lines.append(f"| {name} | {version} | `{hashlib.sha256(raw).hexdigest()}` |")
        if name == "sqs":
            for fn in ("LICENSE.txt", "NOTICE"):
                data = z.read(f"botocore-{version}.dist-info/{fn}")
                with open(os.path.join(ROOT, "LICENSE" if fn.startswith("LICENSE") else "NOTICE"), "wb") as f:
                    f.write(data)
    with open(os.path.join(ROOT, "VERSIONS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
