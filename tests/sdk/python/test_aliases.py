"""CreateAlias, UpdateAlias, DeleteAlias, ListAliases, ListAliasesByKeyId through every Python client mode."""

import pytest

from helpers import (
    alias_arn,
    assert_request_id,
    create_alias,
    create_key,
    expect_error,
    key_arn_account,
    list_all,
    random_uuid,
)


def aliases_of(kms, key_ref):
    items, total = list_all(kms, "ListAliasesByKeyId", "Aliases", "Alias", {"KeyId": key_ref})
    return {a["AliasName"]: a for a in items}


def all_aliases(kms):
    items, _ = list_all(kms, "ListAliases", "Aliases", "Alias")
    names = [a["AliasName"] for a in items]
    assert len(names) == len(set(names)), "an alias listed twice"
    return {a["AliasName"]: a for a in items}


def test_alias_lifecycle(kms, unique):
    key1, key2 = create_key(kms), create_key(kms)
    account = key_arn_account(key1["Arn"], key1["KeyId"])
    name = create_alias(kms, key1["KeyId"], unique)
    expected = {"AliasName": name, "AliasArn": alias_arn(account, name), "KeyId": key1["KeyId"]}

    assert aliases_of(kms, key1["KeyId"]) == {name: expected}
    assert all_aliases(kms)[name] == expected
    assert kms.call("DescribeKey", {"KeyId": name})["KeyMetadata"]["KeyId"] == key1["KeyId"]

    # UpdateAlias re-points it
    assert_request_id(kms.call("UpdateAlias", {"AliasName": name, "KeyId": key2["KeyId"]}))
    assert kms.call("DescribeKey", {"KeyId": name})["KeyMetadata"]["KeyId"] == key2["KeyId"]
    assert aliases_of(kms, key1["KeyId"]) == {}
    assert aliases_of(kms, key2["KeyId"]) == {name: {**expected, "KeyId": key2["KeyId"]}}
    assert all_aliases(kms)[name]["KeyId"] == key2["KeyId"]

    # DeleteAlias removes it; the key stays
    assert_request_id(kms.call("DeleteAlias", {"AliasName": name}))
    expect_error(kms, "DescribeKey", {"KeyId": name}, "Forbidden.AliasNotFound", 404)
    assert name not in all_aliases(kms)
    assert aliases_of(kms, key2["KeyId"]) == {}
    assert kms.call("DescribeKey", {"KeyId": key2["KeyId"]})["KeyMetadata"]["KeyState"] == "Enabled"

    # the name is free again
    create_alias(kms, key1["KeyId"], unique)


def test_several_aliases_per_key_and_key_references(kms, unique):
    key = create_key(kms)
    # CreateAlias accepts the key by id, ARN or another alias
    first = create_alias(kms, key["KeyId"], unique, "-a")
    second = f"alias/sdk-{unique}-b/with/slashes_and-dashes"
    assert_request_id(kms.call("CreateAlias", {"AliasName": second, "KeyId": key["Arn"]}))
    third = f"alias/sdk-{unique}-c"
    assert_request_id(kms.call("CreateAlias", {"AliasName": third, "KeyId": first}))

    for ref in (key["KeyId"], key["Arn"], second):  # ListAliasesByKeyId resolves references too
        listed = aliases_of(kms, ref)
        assert set(listed) == {first, second, third}
        assert {a["KeyId"] for a in listed.values()} == {key["KeyId"]}

    page = kms.call("ListAliasesByKeyId", {"KeyId": key["KeyId"], "PageSize": 2, "PageNumber": 2})
    assert int(page["TotalCount"]) == 3
    assert len(page["Aliases"]["Alias"]) == 1


def test_list_aliases_defaults(kms, unique):
    create_alias(kms, create_key(kms)["KeyId"], unique)
    body = kms.call("ListAliases")
    assert_request_id(body)
    assert (int(body["PageNumber"]), int(body["PageSize"])) == (1, 10)
    assert len(body["Aliases"]["Alias"]) == min(10, int(body["TotalCount"]))


def test_alias_name_of_255_characters(kms):
    name = "alias/" + ("x" * 240) + random_uuid().replace("-", "")[:15]
    assert len(name) - len("alias/") == 255
    key_id = create_key(kms)["KeyId"]
    assert_request_id(kms.call("CreateAlias", {"AliasName": name, "KeyId": key_id}))
    assert kms.call("DescribeKey", {"KeyId": name})["KeyMetadata"]["KeyId"] == key_id


# --- errors -------------------------------------------------------------------------

def test_create_existing_alias(kms, unique):
    key = create_key(kms)
    name = create_alias(kms, key["KeyId"], unique)
    expect_error(kms, "CreateAlias", {"AliasName": name, "KeyId": key["KeyId"]}, "AliasAlreadyExists", 400)
    other = create_key(kms)
    expect_error(kms, "CreateAlias", {"AliasName": name, "KeyId": other["KeyId"]}, "AliasAlreadyExists", 400)
    # the failed attempts changed nothing
    assert kms.call("DescribeKey", {"KeyId": name})["KeyMetadata"]["KeyId"] == key["KeyId"]


@pytest.mark.parametrize("name", [
    "sdk-no-prefix",
    "Alias/sdk-wrong-case",
    "alias/",
    "alias/has space",
    "alias/star*",
    "alias/dot.dot",
    "alias/ünicode",
    "alias/acs",
    "alias/acsreserved",
    "alias/acs/reserved",
    "alias/" + "y" * 256,
])
def test_create_alias_invalid_name(kms, name):
    key_id = create_key(kms)["KeyId"]
    expect_error(kms, "CreateAlias", {"AliasName": name, "KeyId": key_id}, "InvalidParameter", 400)


def test_create_alias_for_unknown_key(kms, unique):
    expect_error(kms, "CreateAlias", {"AliasName": f"alias/sdk-{unique}", "KeyId": random_uuid()},
                 "Forbidden.KeyNotFound", 404)


def test_update_missing_alias(kms, unique):
    key_id = create_key(kms)["KeyId"]
    expect_error(kms, "UpdateAlias", {"AliasName": f"alias/sdk-missing-{unique}", "KeyId": key_id},
                 "Forbidden.AliasNotFound", 404)


def test_update_alias_to_unknown_key(kms, unique):
    name = create_alias(kms, create_key(kms)["KeyId"], unique)
    expect_error(kms, "UpdateAlias", {"AliasName": name, "KeyId": random_uuid()}, "Forbidden.KeyNotFound", 404)


def test_delete_missing_alias(kms, unique):
    expect_error(kms, "DeleteAlias", {"AliasName": f"alias/sdk-missing-{unique}"}, "Forbidden.AliasNotFound", 404)


def test_list_aliases_by_unknown_key(kms):
    expect_error(kms, "ListAliasesByKeyId", {"KeyId": random_uuid()}, "Forbidden.KeyNotFound", 404)


def test_create_alias_without_key_id(kms, unique):
    expect_error(kms, "CreateAlias", {"AliasName": f"alias/sdk-{unique}"}, "MissingParameter", 400)


def test_list_aliases_page_size_over_100(kms):
    expect_error(kms, "ListAliases", {"PageSize": 101}, "InvalidParameter", 400)
