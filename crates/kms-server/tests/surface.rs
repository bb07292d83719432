//! The rest of the 2016-01-20 surface at the wire: managed data keys (made by `kmsd admin
//! datakey`, read by GetManagedDataKey / ListManagedDataKeyVersions), DescribeService, and the
//! attestation actions kmsd refuses with its reason.

mod common;

use common::*;

fn datakey(k: &Kmsd, args: &[&str]) -> String {
    let (ok, out, err) = admin_group(k, "datakey", args);
    assert!(ok, "kmsd admin datakey {args:?}: {err}");
    out
}

#[tokio::test]
async fn managed_data_keys_first_latest_and_named_versions() {
    let k = start();
    let c = k.client();
    let versions: Vec<String> = (0..3).map(|_| datakey(&k, &["create", "app/orders"]).trim().to_owned()).collect();
    for v in &versions {
        assert!(v.len() == 8 && v.bytes().all(|b| b.is_ascii_alphanumeric()), "{v}");
    }
    datakey(&k, &["create", "other"]);

    let get = |params: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(&c, "GetManagedDataKey", &p).await
        }
    };
    let name = || ("DataKeyName", "app/orders".to_owned());
    let body = |r: Resp| -> serde_json::Value {
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    // No version id: the first version, unless UseLatest=true.
    let first = body(get(vec![name()]).await);
    assert_eq!(first["DataKeyName"], "app/orders");
    assert_eq!(first["DataKeyVersionId"], versions[0].as_str());
    assert_eq!(first["DataKeyVersionName"], format!("kms-datakeyversion!app/orders!{}", versions[0]));
    let plaintext = unb64(first["Plaintext"].as_str().unwrap());
    assert_eq!(plaintext.len(), 32);
    assert_eq!(body(get(vec![name(), ("UseLatest", "false".into())]).await)["DataKeyVersionId"], versions[0].as_str());
    let latest = body(get(vec![name(), ("UseLatest", "true".into())]).await);
    assert_eq!(latest["DataKeyVersionId"], versions[2].as_str());
    assert_ne!(unb64(latest["Plaintext"].as_str().unwrap()), plaintext);
    // By version id; the same data key every time.
    let middle = body(get(vec![name(), ("DataKeyVersionId", versions[1].clone())]).await);
    assert_eq!(middle["DataKeyVersionId"], versions[1].as_str());
    let again = body(get(vec![name(), ("DataKeyVersionId", versions[1].clone()), ("UseLatest", "true".into())]).await);
    assert_eq!(again["Plaintext"], middle["Plaintext"]);
    // The store holds them wrapped.
    assert!(!holds(&store_contents(&k.data_dir), &plaintext), "a managed data key stored in the clear");

    // Not found: another name's version, an unknown version or name, a name no data key can have.
    let other_version = datakey(&k, &["list", "other"]).split('\t').next().unwrap().to_owned();
    for params in [
        vec![name(), ("DataKeyVersionId", other_version)],
        vec![name(), ("DataKeyVersionId", "AAAAAAAA".into())],
        vec![name(), ("DataKeyVersionId", "not a version".into())],
        vec![("DataKeyName", "nothing".into())],
        vec![("DataKeyName", "bad!name".into())],
    ] {
        assert_error(&get(params).await, 404, "Forbidden.ResourceNotFound");
    }
    assert_error(&get(vec![]).await, 400, "MissingParameter");
    assert_error(&get(vec![name(), ("UseLatest", "maybe".into())]).await, 400, "InvalidParameter");
}

#[tokio::test]
async fn managed_data_key_versions_are_listed_oldest_first_and_paged() {
    let k = start();
    let c = k.client();
    let versions: Vec<String> = (0..3).map(|_| datakey(&k, &["create", "dk"]).trim().to_owned()).collect();
    let listed = ok(&c, "ListManagedDataKeyVersions", &[("DataKeyName", "dk")]).await;
    assert_eq!((listed["DataKeyName"].as_str(), listed["TotalCount"].as_u64()), (Some("dk"), Some(3)));
    assert_eq!((listed["PageNumber"].as_u64(), listed["PageSize"].as_u64()), (Some(1), Some(10)));
    let items = listed["ManagedDataKeyVersions"]["ManagedDataKeyVersion"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|v| v["DataKeyVersionId"].as_str().unwrap()).collect();
    assert_eq!(ids, versions.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(items[2]["DataKeyVersionName"], format!("kms-datakeyversion!dk!{}", versions[2]));
    let page =
        ok(&c, "ListManagedDataKeyVersions", &[("DataKeyName", "dk"), ("PageSize", "2"), ("PageNumber", "2")]).await;
    let items = page["ManagedDataKeyVersions"]["ManagedDataKeyVersion"].as_array().unwrap();
    assert_eq!((items.len(), items[0]["DataKeyVersionId"].as_str()), (1, Some(versions[2].as_str())));
    assert_eq!(page["TotalCount"], 3);
    // The admin listing agrees.
    let admin_ids: Vec<String> =
        datakey(&k, &["list", "dk"]).lines().map(|l| l.split('\t').next().unwrap().to_owned()).collect();
    assert_eq!(admin_ids, versions);

    let r = call(&c, "ListManagedDataKeyVersions", &[("DataKeyName", "none")]).await;
    assert_error(&r, 404, "Forbidden.ResourceNotFound");
    let r = call(&c, "ListManagedDataKeyVersions", &[("DataKeyName", "dk"), ("PageSize", "101")]).await;
    assert_error(&r, 400, "InvalidParameter");
    assert_error(&call(&c, "ListManagedDataKeyVersions", &[]).await, 400, "MissingParameter");
    // An operator's bad name is refused, and makes nothing.
    let (made, _, err) = admin_group(&k, "datakey", &["create", "no spaces"]);
    assert!(!made && err.contains("1-192 characters"), "{err}");
    assert_eq!(datakey(&k, &["list", "no spaces"]), "");
}

#[tokio::test]
async fn describe_service_lists_what_create_key_takes() {
    let k = start();
    let c = k.client();
    let d = ok(&c, "DescribeService", &[]).await;
    assert_eq!(d["ProtectionLevels"]["ProtectionLevel"], serde_json::json!([{ "Type": "SOFTWARE" }]));
    let specs = d["KeySpecs"]["KeySpec"].as_array().unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s["Name"].as_str().unwrap()).collect();
    for expected in
        ["Aliyun_AES_256", "Aliyun_AES_192", "Aliyun_AES_128", "Aliyun_SM4", "RSA_2048", "EC_SM2", "HMAC_SM3"]
    {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert!(!names.contains(&"Aliyun_DES3_192"));
    // Every listed spec and usage is one CreateKey takes, and is answered as listed.
    for s in specs {
        let spec = s["Name"].as_str().unwrap();
        assert_eq!(s["SupportedProtectionLevels"]["SupportedProtectionLevel"], serde_json::json!(["SOFTWARE"]));
        for usage in s["Usages"]["Usage"].as_array().unwrap() {
            let usage = usage.as_str().unwrap();
            let made = ok(&c, "CreateKey", &[("KeySpec", spec), ("KeyUsage", usage)]).await;
            assert_eq!(
                (made["KeyMetadata"]["KeySpec"].as_str(), made["KeyMetadata"]["KeyUsage"].as_str()),
                (Some(spec), Some(usage))
            );
        }
    }
    let rsa = specs.iter().find(|s| s["Name"] == "RSA_2048").unwrap();
    assert_eq!(rsa["Usages"]["Usage"], serde_json::json!(["ENCRYPT/DECRYPT", "SIGN/VERIFY"]));
    let mac = specs.iter().find(|s| s["Name"] == "HMAC_SHA_512").unwrap();
    assert_eq!(mac["Usages"]["Usage"], serde_json::json!(["GENERATE/VERIFY_MAC"]));
}

#[tokio::test]
async fn attestation_is_refused_with_its_reason() {
    let k = start();
    let c = k.client();
    let r = call(&c, "GetChallenge", &[]).await;
    assert_error(&r, 400, "UnsupportedOperation");
    assert!(r.json()["Message"].as_str().unwrap().contains("trusted execution environment"), "{}", r.text());
    let key = new_key(&c).await;
    let r = call(&c, "GenerateDataKey", &[("KeyId", &key), ("Recipient", "attestation-document")]).await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(r.json()["Message"].as_str().unwrap().contains("Recipient"), "{}", r.text());
}
