"""Lambda execution environments as AWS lays them out: layers under /opt, a
private /tmp, and MemorySize enforced by the kernel.

Stratus does this with a mount namespace and a memory cgroup, which need root
(CI runs as root); elsewhere it falls back to the documented path mapping and
these tests are skipped with that reason.
"""
import base64
import os
import re
import uuid

import pytest

from lambda_fixtures.helpers import create_function, invoke_json, zip_files

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="the /opt mount namespace and memory cgroups need Stratus to run as root",
)


@pytest.fixture
def lam(stratus):
    return stratus.client("lambda")


def publish(lam, name, files):
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_files(files)})["LayerVersionArn"]


def test_layers_are_merged_under_opt_in_order(lam, unique_name):
    first = publish(lam, unique_name("l1"), {
        "python/shared.py": "WHO = 'first'\n",
        "python/only_first.py": "X = 1\n",
        "bin/tool.txt": "from first\n",
    })
    second = publish(lam, unique_name("l2"), {
        "python/shared.py": "WHO = 'second'\n",
        "nodejs/node_modules/m/index.js": "module.exports = 1;\n",
    })
    code = """
import os
def handler(event, context):
    import shared, only_first
    return {
        "who": shared.WHO,
        "shared_path": shared.__file__,
        "opt": sorted(os.listdir('/opt')),
        "first_file": open('/opt/python/only_first.py').read(),
        "tool": open('/opt/bin/tool.txt').read(),
        "node": os.path.exists('/opt/nodejs/node_modules/m/index.js'),
    }
"""
    name = unique_name("opt")
    create_function(lam, name, zip_files({"app.py": code}), Layers=[first, second])
    body = invoke_json(lam, name)["Body"]
    assert body["who"] == "second", "the later layer wins, as when AWS extracts them in order"
    assert body["opt"] == ["bin", "nodejs", "python"], "/opt holds exactly the layers' content"
    assert body["first_file"] == "X = 1\n"
    assert body["tool"] == "from first\n"
    assert body["node"] is True


def test_opt_is_empty_without_layers_and_read_only(lam, unique_name):
    code = """
import os
def handler(event, context):
    try:
        open('/opt/python/new.py', 'w').write('x')
        wrote = True
    except OSError:
        wrote = False
    return {"opt": os.listdir('/opt'), "wrote": wrote}
"""
    name = unique_name("noopt")
    create_function(lam, name, zip_files({"app.py": code}))
    body = invoke_json(lam, name)["Body"]
    assert body == {"opt": [], "wrote": False}


def test_tmp_is_private_per_environment(lam, unique_name):
    marker = f"stratus-sandbox-{uuid.uuid4().hex}"
    code = f"""
import os
def handler(event, context):
    path = '/tmp/{marker}'
    existed = os.path.exists(path)
    if event.get('write'):
        open(path, 'w').write('x')
    return {{"existed": existed}}
"""
    writer, reader = unique_name("tmp-w"), unique_name("tmp-r")
    create_function(lam, writer, zip_files({"app.py": code}))
    create_function(lam, reader, zip_files({"app.py": code}))
    assert invoke_json(lam, writer, {"write": True})["Body"]["existed"] is False
    # The same (warm) environment keeps its /tmp, as on AWS.
    assert invoke_json(lam, writer)["Body"]["existed"] is True
    # Another environment, and the host, never see the file.
    assert invoke_json(lam, reader)["Body"]["existed"] is False
    assert not os.path.exists(f"/tmp/{marker}")


def test_memory_size_is_enforced(lam, unique_name):
    code = """
def handler(event, context):
    hog = []
    for _ in range(event['mb']):
        hog.append(bytearray(1024 * 1024))
    return len(hog)
"""
    name = unique_name("mem")
    create_function(lam, name, zip_files({"app.py": code}), MemorySize=128)
    assert invoke_json(lam, name, {"mb": 16})["Body"] == 16
    r = invoke_json(lam, name, {"mb": 400}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert r["Body"]["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in r["Body"]["errorMessage"]
    log = base64.b64decode(r["LogResult"]).decode()
    used = re.search(r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB", log)
    assert used, log
    assert 100 <= int(used.group(1)) <= 128, log
    # The next invoke gets a new environment and works.
    assert invoke_json(lam, name, {"mb": 8})["Body"] == 8
