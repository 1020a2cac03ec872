"""Lambda code signing configurations: stored, attached to functions, persistent."""
import re

import pytest
from botocore.exceptions import ClientError

from lambda_fixtures.helpers import ROLE, create_function, zip_files

PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p1/abcdefghij"
PROFILE2 = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p2/klmnopqrst"
CODE = zip_files({"app.py": "def handler(e, c):\n    return e\n"})


def err(exc):
    return exc.value.response["Error"]["Code"]


def test_code_signing_config_lifecycle(stratus, unique_name):
    lam = stratus.client("lambda")
    created = lam.create_code_signing_config(Description="mine", AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    csc = created["CodeSigningConfig"]
    assert re.fullmatch(r"csc-[a-z0-9]{17}", csc["CodeSigningConfigId"])
    arn = csc["CodeSigningConfigArn"]
    assert arn == f"arn:aws:lambda:us-east-1:000000000000:code-signing-config:{csc['CodeSigningConfigId']}"
    assert csc["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert csc["Description"] == "mine" and csc["LastModified"]
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == csc
    listed = [c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]]
    assert arn in listed
    upd = lam.update_code_signing_config(CodeSigningConfigArn=arn, Description="changed",
                                         AllowedPublishers={"SigningProfileVersionArns": [PROFILE, PROFILE2]},
                                         CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})["CodeSigningConfig"]
    assert upd["Description"] == "changed" and upd["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == "Enforce"
    assert upd["AllowedPublishers"]["SigningProfileVersionArns"] == [PROFILE, PROFILE2]

    # Attach to functions: at creation and with PutFunctionCodeSigningConfig.
    f1, f2 = unique_name("a"), unique_name("b")
    create_function(lam, f1, CODE, CodeSigningConfigArn=arn)
    create_function(lam, f2, CODE)
    assert lam.get_function_code_signing_config(FunctionName=f2)["CodeSigningConfigArn"] == ""
    put = lam.put_function_code_signing_config(FunctionName=f2, CodeSigningConfigArn=arn)
    assert put["CodeSigningConfigArn"] == arn and put["FunctionName"] == f2
    got = lam.get_function_code_signing_config(FunctionName=f1)
    assert got == {**got, "CodeSigningConfigArn": arn, "FunctionName": f1}
    fns = lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"]
    assert sorted(fns) == sorted(f"arn:aws:lambda:us-east-1:000000000000:function:{n}" for n in (f1, f2))
    # In use: cannot be deleted.
    with pytest.raises(ClientError) as e:
        lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert err(e) == "ResourceConflictException"
    lam.delete_function_code_signing_config(FunctionName=f1)
    lam.delete_function(FunctionName=f2)
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(ClientError) as e:
        lam.get_code_signing_config(CodeSigningConfigArn=arn)
    assert err(e) == "ResourceNotFoundException"


def test_code_signing_errors(stratus, unique_name):
    lam = stratus.client("lambda")
    missing = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg"
    name = unique_name("f")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": CODE}, CodeSigningConfigArn=missing)
    assert err(e) == "CodeSigningConfigNotFoundException"
    create_function(lam, name, CODE)
    with pytest.raises(ClientError) as e:
        lam.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=missing)
    assert err(e) == "CodeSigningConfigNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.put_function_code_signing_config(FunctionName=unique_name("nofn"), CodeSigningConfigArn=missing)
    assert err(e) == "ResourceNotFoundException"
    for call in (lam.get_code_signing_config, lam.delete_code_signing_config,
                 lam.list_functions_by_code_signing_config):
        with pytest.raises(ClientError) as e:
            call(CodeSigningConfigArn=missing)
        assert err(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": ["not-an-arn"]})
    assert err(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
                                       CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Maybe"})
    assert err(e) in ("ValidationException", "InvalidParameterValueException")


def test_code_signing_with_the_cli(stratus, unique_name):
    out = stratus.cli("lambda", "create-code-signing-config", "--allowed-publishers",
                      f"SigningProfileVersionArns={PROFILE}").json["CodeSigningConfig"]
    arn = out["CodeSigningConfigArn"]
    got = stratus.cli("lambda", "get-code-signing-config", "--code-signing-config-arn", arn).json
    assert got["CodeSigningConfig"]["CodeSigningConfigId"] == out["CodeSigningConfigId"]
    stratus.cli("lambda", "delete-code-signing-config", "--code-signing-config-arn", arn)


def test_code_signing_configs_survive_restart(fresh_stratus, unique_name):
    server = fresh_stratus()
    lam = server.client("lambda")
    csc = lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})["CodeSigningConfig"]
    name = unique_name("kept")
    create_function(lam, name, CODE)
    lam.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=csc["CodeSigningConfigArn"])
    server.kill9()
    server.start()
    lam = server.client("lambda")
    assert lam.get_code_signing_config(CodeSigningConfigArn=csc["CodeSigningConfigArn"])["CodeSigningConfig"] == csc
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == csc["CodeSigningConfigArn"]
