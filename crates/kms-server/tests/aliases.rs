//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases, ListAliasesByKeyId at the wire.

mod common;

use common::*;
use serde_json::json;

fn names(v: &serde_json::Value) -> Vec<String> {
    v["Aliases"]["Alias"].as_array().unwrap().iter().map(|a| a["AliasName"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn alias_lifecycle() {
    let k = start();
    let c = k.client();
    let (a, b) = (new_key(&c).await, new_key(&c).await);
    let created = ok(&c, "CreateAlias", &[("AliasName", "alias/app/prod-1_x"), ("KeyId", &a)]).await;
    assert_eq!(created.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["RequestId"]);
    ok(&c, "CreateAlias", &[("AliasName", "alias/second"), ("KeyId", "alias/app/prod-1_x")]).await;
    let listed = ok(&c, "ListAliases", &[]).await;
    assert_eq!(names(&listed), vec!["alias/app/prod-1_x", "alias/second"]);
    assert_eq!(listed["TotalCount"], 2);
    let first = &listed["Aliases"]["Alias"][0];
    let account = ok(&c, "DescribeKey", &[("KeyId", &a)]).await["KeyMetadata"]["Creator"].as_str().unwrap().to_owned();
    assert_eq!(first["AliasArn"], format!("acs:kms:cn-hangzhou:{account}:alias/app/prod-1_x"));
    assert_eq!(first["KeyId"], a.as_str());

    // Encrypt by alias reports the real key id; UpdateAlias re-points it.
    let enc = ok(&c, "Encrypt", &[("KeyId", "alias/second"), ("Plaintext", "aGk=")]).await;
    assert_eq!(enc["KeyId"], a.as_str());
    ok(&c, "UpdateAlias", &[("AliasName", "alias/second"), ("KeyId", &b)]).await;
    let enc = ok(&c, "Encrypt", &[("KeyId", "alias/second"), ("Plaintext", "aGk=")]).await;
    assert_eq!(enc["KeyId"], b.as_str());

    let of_a = ok(&c, "ListAliasesByKeyId", &[("KeyId", &a)]).await;
    assert_eq!((names(&of_a), of_a["TotalCount"].clone()), (vec!["alias/app/prod-1_x".to_owned()], json!(1)));
    let of_b = ok(&c, "ListAliasesByKeyId", &[("KeyId", "alias/second")]).await;
    assert_eq!(names(&of_b), vec!["alias/second"]);

    ok(&c, "DeleteAlias", &[("AliasName", "alias/second")]).await;
    assert_error(&call(&c, "DescribeKey", &[("KeyId", "alias/second")]).await, 404, "Forbidden.AliasNotFound");
    // The key survives its alias.
    assert_eq!(ok(&c, "DescribeKey", &[("KeyId", &b)]).await["KeyMetadata"]["KeyState"], "Enabled");
}

#[tokio::test]
async fn alias_errors() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let missing = "11111111-2222-3333-4444-555555555555";
    ok(&c, "CreateAlias", &[("AliasName", "alias/taken"), ("KeyId", &key)]).await;
    assert_error(
        &call(&c, "CreateAlias", &[("AliasName", "alias/taken"), ("KeyId", &key)]).await,
        400,
        "AliasAlreadyExists",
    );
    let long = format!("alias/{}", "a".repeat(256));
    for bad in ["taken", "alias/", "alias/has space", "alias/acs/mine", "Alias/x", "alias/dot.ted", long.as_str()] {
        let r = call(&c, "CreateAlias", &[("AliasName", bad), ("KeyId", &key)]).await;
        assert_error(&r, 400, "InvalidParameter");
        assert_eq!(r.json()["Message"], "The specified parameter \"AliasName\" is not valid.");
    }
    ok(&c, "CreateAlias", &[("AliasName", &format!("alias/{}", "a".repeat(255))), ("KeyId", &key)]).await;
    assert_error(
        &call(&c, "CreateAlias", &[("AliasName", "alias/x"), ("KeyId", missing)]).await,
        404,
        "Forbidden.KeyNotFound",
    );
    assert_error(&call(&c, "CreateAlias", &[("AliasName", "alias/x")]).await, 400, "MissingParameter");
    assert_error(
        &call(&c, "UpdateAlias", &[("AliasName", "alias/none"), ("KeyId", &key)]).await,
        404,
        "Forbidden.AliasNotFound",
    );
    assert_error(
        &call(&c, "UpdateAlias", &[("AliasName", "alias/taken"), ("KeyId", missing)]).await,
        404,
        "Forbidden.KeyNotFound",
    );
    assert_error(&call(&c, "DeleteAlias", &[("AliasName", "alias/none")]).await, 404, "Forbidden.AliasNotFound");
    assert_error(&call(&c, "ListAliasesByKeyId", &[("KeyId", missing)]).await, 404, "Forbidden.KeyNotFound");
    assert_error(&call(&c, "ListAliases", &[("PageSize", "101")]).await, 400, "InvalidParameter");
    // The refused calls changed nothing.
    let all = ok(&c, "ListAliases", &[("PageSize", "100")]).await;
    assert_eq!(all["TotalCount"], 2);
    assert_eq!(ok(&c, "DescribeKey", &[("KeyId", "alias/taken")]).await["KeyMetadata"]["KeyId"], key.as_str());
}

#[tokio::test]
async fn alias_lists_page() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    for i in 0..13 {
        ok(&c, "CreateAlias", &[("AliasName", &format!("alias/a{i:02}")), ("KeyId", &key)]).await;
    }
    let p2 = ok(&c, "ListAliasesByKeyId", &[("KeyId", &key), ("PageNumber", "2"), ("PageSize", "5")]).await;
    assert_eq!(names(&p2), vec!["alias/a05", "alias/a06", "alias/a07", "alias/a08", "alias/a09"]);
    assert_eq!(
        (p2["PageNumber"].clone(), p2["PageSize"].clone(), p2["TotalCount"].clone()),
        (json!(2), json!(5), json!(13))
    );
    let last = ok(&c, "ListAliases", &[("PageNumber", "2")]).await;
    assert_eq!(names(&last), vec!["alias/a10", "alias/a11", "alias/a12"]);
    // PageSize 0 (spec: 0–100) is an empty page that still counts; the "101" the docs allow
    // for ListAliasesByKeyId and ListKeyVersions is served as 100.
    let none = ok(&c, "ListAliases", &[("PageSize", "0")]).await;
    assert_eq!((names(&none).len(), none["PageSize"].clone(), none["TotalCount"].clone()), (0, json!(0), json!(13)));
    let most = ok(&c, "ListAliasesByKeyId", &[("KeyId", &key), ("PageSize", "101")]).await;
    assert_eq!((names(&most).len(), most["PageSize"].clone()), (13, json!(100)));
    let versions = ok(&c, "ListKeyVersions", &[("KeyId", &key), ("PageSize", "101")]).await;
    assert_eq!(versions["PageSize"], 100);
    assert_error(&call(&c, "ListKeyVersions", &[("KeyId", &key), ("PageSize", "102")]).await, 400, "InvalidParameter");
}
