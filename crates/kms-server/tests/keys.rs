//! CreateKey, DescribeKey, ListKeys at the wire.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn create_key_answers_full_metadata_and_describe_agrees() {
    let k = start();
    let c = k.client();
    let created = ok(&c, "CreateKey", &[("Description", "app key ü")]).await;
    let m = &created["KeyMetadata"];
    let id = m["KeyId"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    let account = m["Creator"].as_str().unwrap();
    assert!(account.len() == 16 && account.bytes().all(|b| b.is_ascii_digit()), "{account}");
    assert_eq!(m["Arn"], format!("acs:kms:cn-hangzhou:{account}:key/{id}"));
    assert_eq!(m["KeySpec"], "Aliyun_AES_256");
    assert_eq!(m["KeyUsage"], "ENCRYPT/DECRYPT");
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["Origin"], "Aliyun_KMS");
    assert_eq!(m["ProtectionLevel"], "SOFTWARE");
    assert_eq!(m["AutomaticRotation"], "Disabled");
    assert_eq!(m["DeletionProtection"], "Disabled");
    assert_eq!(m["Description"], "app key ü");
    assert_eq!(m["PrimaryKeyVersion"].as_str().unwrap().len(), 36);
    let created_at = m["CreationDate"].as_str().unwrap();
    assert!(time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339).is_ok());
    assert!(created_at.ends_with('Z') && created_at.len() == 20, "{created_at}");
    assert!(m.get("DeleteDate").is_none() && m.get("RotationInterval").is_none());

    // DescribeKey by id, by ARN and by alias gives the same metadata.
    ok(&c, "CreateAlias", &[("AliasName", "alias/described"), ("KeyId", id)]).await;
    let arn = m["Arn"].as_str().unwrap().to_owned();
    for r in [id, arn.as_str(), "alias/described"] {
        let d = ok(&c, "DescribeKey", &[("KeyId", r)]).await;
        assert_eq!(&d["KeyMetadata"], m, "by {r}");
    }
}

#[tokio::test]
async fn create_key_refuses_what_it_does_not_offer() {
    let k = start();
    let c = k.client();
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        (&[("KeySpec", "Aliyun_DES3_192")], 400, "UnsupportedOperation"),
        // HMAC keys: only their own usage, no import, no rotation.
        (&[("KeySpec", "HMAC_SHA_256"), ("KeyUsage", "ENCRYPT/DECRYPT")], 400, "InvalidParameter"),
        (&[("KeyUsage", "GENERATE/VERIFY_MAC")], 400, "InvalidParameter"),
        (&[("KeySpec", "HMAC_SM3"), ("Origin", "EXTERNAL")], 400, "UnsupportedOperation"),
        (
            &[("KeySpec", "HMAC_SHA_512"), ("EnableAutomaticRotation", "true"), ("RotationInterval", "30d")],
            400,
            "UnsupportedOperation",
        ),
        (&[("KeySpec", "HMAC_MD5")], 400, "InvalidParameter"),
        (&[("KeySpec", "Bogus")], 400, "InvalidParameter"),
        (&[("KeyUsage", "SIGN/VERIFY")], 400, "InvalidParameter"),
        (&[("KeyUsage", "sign")], 400, "InvalidParameter"),
        (&[("Origin", "EXTERNAL"), ("KeySpec", "RSA_2048")], 400, "UnsupportedOperation"),
        (&[("Origin", "external")], 400, "InvalidParameter"),
        (&[("ProtectionLevel", "HSM")], 400, "UnsupportedOperation"),
        (&[("EnableAutomaticRotation", "True")], 400, "MissingParameter"),
        (&[("EnableAutomaticRotation", "True"), ("RotationInterval", "6d")], 400, "InvalidParameter"),
        (&[("EnableAutomaticRotation", "True"), ("RotationInterval", "731d")], 400, "InvalidParameter"),
        (&[("EnableAutomaticRotation", "True"), ("RotationInterval", "30x")], 400, "InvalidParameter"),
        (&[("EnableAutomaticRotation", "maybe")], 400, "InvalidParameter"),
        (&[("DKMSInstanceId", "kst-nope")], 403, "Forbidden.DKMSInstanceNotFound"),
    ];
    for (params, status, code) in cases {
        assert_error(&call(&c, "CreateKey", params).await, *status, code);
    }
    let long = "d".repeat(8193);
    assert_error(&call(&c, "CreateKey", &[("Description", &long)]).await, 400, "InvalidParameter");
    // Nothing was created by any refused call.
    assert_eq!(ok(&c, "ListKeys", &[]).await["TotalCount"], 0);
    // Booleans ignore case; false is the default.
    ok(&c, "CreateKey", &[("EnableAutomaticRotation", "FALSE"), ("Description", &"d".repeat(8192))]).await;
}

#[tokio::test]
async fn describe_key_not_found_codes() {
    let k = start();
    let c = k.client();
    let missing = "11111111-2222-3333-4444-555555555555";
    assert_error(&call(&c, "DescribeKey", &[("KeyId", missing)]).await, 404, "Forbidden.KeyNotFound");
    assert_error(&call(&c, "DescribeKey", &[("KeyId", "not-a-key")]).await, 404, "Forbidden.KeyNotFound");
    assert_error(&call(&c, "DescribeKey", &[("KeyId", "alias/nope")]).await, 404, "Forbidden.AliasNotFound");
    assert_error(&call(&c, "DescribeKey", &[]).await, 400, "MissingParameter");
    // A well-formed ARN of another region or account names nothing here.
    let key = new_key(&c).await;
    let arn = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let elsewhere = arn.replace("cn-hangzhou", "cn-shanghai");
    assert_error(&call(&c, "DescribeKey", &[("KeyId", &elsewhere)]).await, 404, "Forbidden.KeyNotFound");
}

#[tokio::test]
async fn list_keys_pages_and_filters() {
    let k = start();
    let c = k.client();
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(new_key(&c).await);
    }
    let first = ok(&c, "ListKeys", &[]).await;
    assert_eq!(
        (first["PageNumber"].clone(), first["PageSize"].clone(), first["TotalCount"].clone()),
        (json!(1), json!(10), json!(12))
    );
    let page: Vec<&str> =
        first["Keys"]["Key"].as_array().unwrap().iter().map(|k| k["KeyId"].as_str().unwrap()).collect();
    assert_eq!(page, ids[..10].iter().map(String::as_str).collect::<Vec<_>>(), "oldest first");
    let second = ok(&c, "ListKeys", &[("PageNumber", "2"), ("PageSize", "10")]).await;
    let rest: Vec<&str> =
        second["Keys"]["Key"].as_array().unwrap().iter().map(|k| k["KeyId"].as_str().unwrap()).collect();
    assert_eq!(rest, ids[10..].iter().map(String::as_str).collect::<Vec<_>>());
    let entry = &second["Keys"]["Key"][0];
    assert!(entry["KeyArn"].as_str().unwrap().ends_with(&format!(":key/{}", ids[10])));
    let beyond = ok(&c, "ListKeys", &[("PageNumber", "9")]).await;
    assert_eq!(beyond["Keys"], json!({"Key": []}));

    let enabled =
        ok(&c, "ListKeys", &[("Filters", r#"[{"Key":"KeyState","Values":["Enabled"]}]"#), ("PageSize", "100")]).await;
    assert_eq!(enabled["TotalCount"], 12);
    let disabled = ok(&c, "ListKeys", &[("Filters", r#"[{"Key":"KeyState","Values":["Disabled"]}]"#)]).await;
    assert_eq!((disabled["TotalCount"].clone(), disabled["Keys"].clone()), (json!(0), json!({"Key": []})));
    let spec_and_usage =
        r#"[{"Key":"KeySpec","Values":["Aliyun_AES_256","RSA_2048"]},{"Key":"KeyUsage","Values":["ENCRYPT/DECRYPT"]}]"#;
    assert_eq!(ok(&c, "ListKeys", &[("Filters", spec_and_usage)]).await["TotalCount"], 12);
    let sign = r#"[{"Key":"KeyUsage","Values":["SIGN/VERIFY"]}]"#;
    assert_eq!(ok(&c, "ListKeys", &[("Filters", sign)]).await["TotalCount"], 0);
    // The newer filters (spec §7.2): by id, by alias (with or without its prefix), by creator.
    let listed = |filters: String| {
        let c = c.clone();
        async move {
            let r = ok(&c, "ListKeys", &[("Filters", &filters), ("PageSize", "100")]).await;
            r["Keys"]["Key"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["KeyId"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let by_id = format!(r#"[{{"Key":"keyId","Values":["{}","{}","absent"]}}]"#, ids[3], ids[1]);
    assert_eq!(listed(by_id).await, [ids[1].clone(), ids[3].clone()]);
    ok(&c, "CreateAlias", &[("AliasName", "alias/listed"), ("KeyId", &ids[5])]).await;
    let by_alias = r#"[{"Key":"AliasName","Values":["alias/listed","listed","alias/none"]}]"#.to_owned();
    assert_eq!(listed(by_alias).await, [ids[5].clone()]);
    let alias_and_id =
        format!(r#"[{{"Key":"AliasName","Values":["alias/listed"]}},{{"Key":"keyId","Values":["{}"]}}]"#, ids[4]);
    assert_eq!(listed(alias_and_id).await, Vec::<String>::new());
    let account = entry["KeyArn"].as_str().unwrap().split(':').nth(3).unwrap().to_owned();
    let mine = format!(r#"[{{"Key":"Creator","Values":["{account}"]}},{{"Key":"CreatorType","Values":["User"]}}]"#);
    assert_eq!(listed(mine).await.len(), 12);
    for nothing in [
        r#"[{"Key":"Creator","Values":["1111111111111111"]}]"#,
        r#"[{"Key":"CreatorType","Values":["Service"]}]"#,
        r#"[{"Key":"DKMSInstanceId","Values":["kst-hzz0000"]}]"#,
    ] {
        assert_eq!(listed(nothing.to_owned()).await, Vec::<String>::new(), "{nothing}");
    }

    for (name, value) in [
        ("PageSize", "0"),
        ("PageSize", "101"),
        ("PageNumber", "0"),
        ("PageNumber", "x"),
        ("Filters", "[{\"Key\":\"Colour\",\"Values\":[\"red\"]}]"),
        ("Filters", "[{\"Key\":\"KeyState\",\"Values\":[\"Asleep\"]}]"),
        ("Filters", "[{\"Key\":\"CreatorType\",\"Values\":[\"Robot\"]}]"),
        ("Filters", "not json"),
    ] {
        let r = call(&c, "ListKeys", &[(name, value)]).await;
        assert_error(&r, 400, "InvalidParameter");
        assert_eq!(r.json()["Message"], format!("The specified parameter \"{name}\" is not valid."));
    }
}
