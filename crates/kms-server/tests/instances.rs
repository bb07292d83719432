//! KMS instances at the wire (docs/design/instances.md §2, §6–§8): the operator makes one with
//! `kmsd admin instance create` while the server runs, a caller connects it, reads it, pages
//! the list, binds VPCs (sent as GET, as Terraform does), reads the quotas and releases it;
//! after that every call naming it is refused. The CA chain is a CA certificate openssl reads.

mod common;

use common::*;
use serde_json::json;

fn create_instance(k: &Kmsd, args: &[&str]) -> String {
    let mut all = vec!["create"];
    all.extend_from_slice(args);
    let (ok, out, err) = admin_group(k, "instance", &all);
    assert!(ok, "admin instance create: {err}");
    let id = out.lines().next().unwrap().to_owned();
    assert!(id.starts_with("kst-hzz") && id.len() == 25, "{id}");
    assert!(id[4..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{id}");
    id
}

async fn connect(c: &Client, id: &str) -> Resp {
    call(
        c,
        "ConnectKmsInstance",
        &[
            ("KmsInstanceId", id),
            ("KMProvider", "Aliyun"),
            ("VpcId", "vpc-own"),
            ("ZoneIds", "cn-hangzhou-k,cn-hangzhou-j"),
            ("VSwitchIds", "vsw-a,vsw-b"),
        ],
    )
    .await
}

const BIND: &str = r#"[{"RegionId":"cn-hangzhou","VSwitchId":"vsw-2","VpcId":"vpc-2","VpcOwnerId":1234567890},{"RegionId":"cn-hangzhou","VSwitchId":"vsw-3","VpcId":"vpc-3","VpcOwnerId":"987"}]"#;

#[tokio::test]
async fn an_instance_is_created_connected_bound_counted_and_released() {
    let k = start();
    let c = k.client();
    let id = create_instance(&k, &["--spec", "2000", "--key-num", "2", "--secret-num", "1", "--vpc-num", "3"]);

    // Made by another process while the server runs: seen at once, Uninitialized.
    let got = ok(&c, "GetKmsInstance", &[("KmsInstanceId", &id)]).await;
    let i = &got["KmsInstance"];
    assert_eq!(i["Status"], "Uninitialized");
    assert!(i.get("VpcId").is_none() && i.get("ZoneIds").is_none() && i.get("StartDate").is_none(), "{i}");
    // Not connected yet: binding VPCs is refused with the state code.
    let r = c.send(Call::new("UpdateKmsInstanceBindVpc", &[("KmsInstanceId", &id), ("BindVpcs", "[]")]).get()).await;
    assert_error(&r, 403, "Forbidden.DKMSInstanceStateInvalid");

    assert_eq!(connect(&c, &id).await.status, 200);
    assert_error(&connect(&c, &id).await, 403, "Forbidden.DKMSInstanceStateInvalid");

    let got = ok(&c, "GetKmsInstance", &[("KmsInstanceId", &id)]).await;
    let i = &got["KmsInstance"];
    assert_eq!(i["InstanceId"], id.as_str());
    assert_eq!(i["InstanceName"], id.as_str());
    assert_eq!(i["Status"], "Connected");
    assert_eq!((i["Spec"].clone(), i["KeyNum"].clone(), i["VpcNum"].clone()), (json!(2000), json!(2), json!(3)));
    assert_eq!(i["SecretNum"], "1", "SecretNum is a string on the wire");
    assert_eq!(i["VpcId"], "vpc-own");
    assert_eq!(i["ZoneIds"], json!(["cn-hangzhou-k", "cn-hangzhou-j"]));
    assert_eq!(i["VswitchIds"], json!(["vsw-a", "vsw-b"]));
    assert_eq!(i["BindVpcs"], json!({"BindVpc": []}));
    for t in ["CreateTime", "StartDate"] {
        let v = i[t].as_str().unwrap();
        assert!(v.len() == 20 && v.ends_with('Z'), "{t} {v}");
    }
    assert_eq!(i["ChargeType"], "POSTPAY");
    assert_eq!(i["ProductType"], "kms_ppi_public_intl");
    assert_eq!(i["ProductVersion"], "3");
    assert_eq!(i["DeletionProtection"], false);
    assert_eq!((i["Log"].clone(), i["LogStorage"].clone()), (json!(0), json!(0)));
    let ca = i["CaCertificateChainPem"].as_str().unwrap().to_owned();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    // Bind VPCs with a GET (Terraform's RpcGet): replaces the list; numbers become strings.
    let r = c.send(Call::new("UpdateKmsInstanceBindVpc", &[("KmsInstanceId", &id), ("BindVpcs", BIND)]).get()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = ok(&c, "GetKmsInstance", &[("KmsInstanceId", &id)]).await;
    assert_eq!(
        got["KmsInstance"]["BindVpcs"]["BindVpc"],
        json!([
            {"RegionId": "cn-hangzhou", "VSwitchId": "vsw-2", "VpcId": "vpc-2", "VpcOwnerId": "1234567890"},
            {"RegionId": "cn-hangzhou", "VSwitchId": "vsw-3", "VpcId": "vpc-3", "VpcOwnerId": "987"},
        ])
    );
    // Own VPC + 3 bound > VpcNum 3.
    let three = r#"[{"VpcId":"vpc-2"},{"VpcId":"vpc-3"},{"VpcId":"vpc-4"}]"#;
    let r = call(&c, "UpdateKmsInstanceBindVpc", &[("KmsInstanceId", &id), ("BindVpcs", three)]).await;
    assert_error(&r, 400, "Rejected.LimitExceeded");
    let r = call(&c, "UpdateKmsInstanceBindVpc", &[("KmsInstanceId", &id), ("BindVpcs", "{not json")]).await;
    assert_error(&r, 400, "InvalidParameter");

    // Quotas: all four in order, or the one asked for.
    let q = ok(&c, "GetKmsInstanceQuotaInfos", &[("KmsInstanceId", &id)]).await;
    assert_eq!(q["KmsInstanceId"], id.as_str());
    assert_eq!(
        q["KmsInstanceQuotaInfos"],
        json!([
            {"ResourceQuota": 2, "ResourceType": "key", "UsedQuantity": 0},
            {"ResourceQuota": 1, "ResourceType": "secret", "UsedQuantity": 0},
            {"ResourceQuota": 3, "ResourceType": "vpc", "UsedQuantity": 3},
            {"ResourceQuota": 2000, "ResourceType": "qps", "UsedQuantity": 0},
        ])
    );
    let q = ok(&c, "GetKmsInstanceQuotaInfos", &[("KmsInstanceId", &id), ("ResourceType", "vpc")]).await;
    assert_eq!(q["KmsInstanceQuotaInfos"], json!([{"ResourceQuota": 3, "ResourceType": "vpc", "UsedQuantity": 3}]));
    let r = call(&c, "GetKmsInstanceQuotaInfos", &[("KmsInstanceId", &id), ("ResourceType", "disk")]).await;
    assert_error(&r, 400, "InvalidParameter");

    // No default instance.
    let d = ok(&c, "GetDefaultKmsInstance", &[]).await;
    assert!(d.get("DefaultKmsInstanceId").is_none(), "{d}");

    // Release: gone for every call naming it, and from the list.
    assert_eq!(call(&c, "ReleaseKmsInstance", &[("KmsInstanceId", &id)]).await.status, 200);
    for (action, extra) in [
        ("GetKmsInstance", vec![]),
        ("GetKmsInstanceQuotaInfos", vec![]),
        ("UpdateKmsInstanceBindVpc", vec![("BindVpcs", "[]")]),
        ("ReleaseKmsInstance", vec![]),
    ] {
        let mut params = vec![("KmsInstanceId", id.as_str())];
        params.extend(extra);
        assert_error(&call(&c, action, &params).await, 403, "Forbidden.DKMSInstanceNotFound");
    }
    assert_error(&connect(&c, &id).await, 403, "Forbidden.DKMSInstanceNotFound");
    assert_eq!(ok(&c, "ListKmsInstances", &[]).await["TotalCount"], 0);
    let (ok_, out, _) = admin_group(&k, "instance", &["list"]);
    assert!(ok_ && out.is_empty(), "{out}");

    // Unknown ids, and bad parameters.
    assert_error(
        &call(&c, "GetKmsInstance", &[("KmsInstanceId", "kst-hzz000000000000000000")]).await,
        403,
        "Forbidden.DKMSInstanceNotFound",
    );
    assert_error(&call(&c, "GetKmsInstance", &[]).await, 400, "MissingParameter");
    let other = create_instance(&k, &[]);
    let r = call(
        &c,
        "ConnectKmsInstance",
        &[("KmsInstanceId", &other), ("KMProvider", "Other"), ("VpcId", "v"), ("ZoneIds", "z"), ("VSwitchIds", "s")],
    )
    .await;
    assert_error(&r, 400, "InvalidParameter");

    // The writes have intent lines; the reads do not.
    let text = std::fs::read_to_string(k.data_dir.join("audit.log")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (action, writes) in [
        ("ConnectKmsInstance", true),
        ("UpdateKmsInstanceBindVpc", true),
        ("ReleaseKmsInstance", true),
        ("GetKmsInstance", false),
        ("ListKmsInstances", false),
        ("GetKmsInstanceQuotaInfos", false),
        ("GetDefaultKmsInstance", false),
    ] {
        let of = |phase: Option<&str>| lines.iter().any(|l| l["Action"] == action && l["Phase"].as_str() == phase);
        assert!(of(None), "{action} audited");
        assert_eq!(of(Some("Intent")), writes, "{action} intent line");
    }
    // The instance is named by its ARN.
    let connected = lines.iter().find(|l| l["Action"] == "ConnectKmsInstance" && l.get("Phase").is_none()).unwrap();
    let arn = connected["Resources"][0].as_str().unwrap();
    assert!(arn.starts_with("acs:kms:cn-hangzhou:") && arn.ends_with(&format!(":keystore/{id}")), "{connected}");
}

#[tokio::test]
async fn instances_are_listed_in_pages_of_20_by_default_and_filtered() {
    let k = start();
    let c = k.client();
    let ids: Vec<String> = (0..3).map(|_| create_instance(&k, &[])).collect();
    let (ok_, out, _) = admin_group(&k, "instance", &["list"]);
    assert!(ok_);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().all(|l| l.contains("\tUninitialized\t")), "{out}");

    let all = ok(&c, "ListKmsInstances", &[]).await;
    assert_eq!(
        (all["PageNumber"].clone(), all["PageSize"].clone(), all["TotalCount"].clone()),
        (json!(1), json!(20), json!(3))
    );
    let listed: Vec<&str> = all["KmsInstances"]["KmsInstance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["KmsInstanceId"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    let mut got = listed.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    got.sort();
    assert_eq!(got, sorted);
    let first = &all["KmsInstances"]["KmsInstance"][0];
    let arn = first["KmsInstanceArn"].as_str().unwrap();
    assert!(
        arn.starts_with("acs:kms:cn-hangzhou:")
            && arn.ends_with(&format!(":keystore/{}", first["KmsInstanceId"].as_str().unwrap())),
        "{arn}"
    );
    assert_eq!(first["InstanceName"], first["KmsInstanceId"]);

    let p2 = ok(&c, "ListKmsInstances", &[("PageSize", "2"), ("PageNumber", "2")]).await;
    assert_eq!(p2["TotalCount"], 3);
    assert_eq!(p2["KmsInstances"]["KmsInstance"].as_array().unwrap().len(), 1);
    assert_eq!(p2["KmsInstances"]["KmsInstance"][0]["KmsInstanceId"], listed[2]);

    let filter = format!(r#"[{{"Key":"InstanceName","Values":["{}"]}}]"#, ids[1]);
    let f = ok(&c, "ListKmsInstances", &[("Filters", &filter)]).await;
    assert_eq!(f["TotalCount"], 1);
    assert_eq!(f["KmsInstances"]["KmsInstance"][0]["KmsInstanceId"], ids[1].as_str());
    let r = call(&c, "ListKmsInstances", &[("Filters", r#"[{"Key":"Color","Values":["x"]}]"#)]).await;
    assert_error(&r, 400, "InvalidParameter");
    // Every action is served on GET as on POST.
    let r = c.send(Call::new("ListKmsInstances", &[("PageSize", "1")]).get()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["PageSize"], 1);
}

/// `CaCertificateChainPem`: one CA per deployment, the same for every instance and every read,
/// a certificate openssl parses, with basicConstraints CA:TRUE.
#[tokio::test]
async fn the_ca_chain_is_a_ca_certificate_openssl_reads() {
    let k = start();
    let c = k.client();
    let a = create_instance(&k, &[]);
    let b = create_instance(&k, &[]);
    let pem_of = |v: serde_json::Value| v["KmsInstance"]["CaCertificateChainPem"].as_str().unwrap().to_owned();
    let pem = pem_of(ok(&c, "GetKmsInstance", &[("KmsInstanceId", &a)]).await);
    assert_eq!(pem, pem_of(ok(&c, "GetKmsInstance", &[("KmsInstanceId", &b)]).await));
    assert_eq!(pem, pem_of(ok(&c, "GetKmsInstance", &[("KmsInstanceId", &a)]).await));
    assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 1, "{pem}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &pem).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&path)
        .output()
        .expect("the openssl command");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Certificate Sign"), "{text}");
    assert!(text.contains("kmsd KMS instance CA"), "{text}");
    // The CA's private key is not in the store in the clear (it is wrapped by the root key).
    assert!(!holds(&store_contents(&k.data_dir), b"PRIVATE KEY"));
}

/// Keys and secrets in an instance (§3): made only in a Connected instance, shown with it,
/// selected by it, counted against its quotas; released, it takes no more.
#[tokio::test]
async fn keys_and_secrets_live_in_a_connected_instance_within_its_quotas() {
    let k = start();
    let c = k.client();
    let id = create_instance(&k, &["--key-num", "2", "--secret-num", "1"]);
    let in_it = [("DKMSInstanceId", id.as_str())];

    // Not connected yet: the state code (Terraform retries CreateKey on it).
    assert_error(&call(&c, "CreateKey", &in_it).await, 403, "Forbidden.DKMSInstanceStateInvalid");
    assert_eq!(connect(&c, &id).await.status, 200);

    let made = ok(&c, "CreateKey", &in_it).await;
    assert_eq!(made["KeyMetadata"]["DKMSInstanceId"], id.as_str());
    let key_id = made["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    // Named as the cloud names instance keys: key-<region code><random>; its ARN carries it.
    assert!(key_id.starts_with("key-hzz") && key_id.len() == 25, "{key_id}");
    assert!(made["KeyMetadata"]["Arn"].as_str().unwrap().ends_with(&format!(":key/{key_id}")));
    let described = ok(&c, "DescribeKey", &[("KeyId", &key_id)]).await;
    assert_eq!(described["KeyMetadata"]["DKMSInstanceId"], id.as_str());
    // A default key shows none, and works as before.
    let plain = new_key(&c).await;
    assert!(ok(&c, "DescribeKey", &[("KeyId", &plain)]).await["KeyMetadata"].get("DKMSInstanceId").is_none());
    // The instance key encrypts like any other.
    let enc = ok(&c, "Encrypt", &[("KeyId", &key_id), ("Plaintext", &b64(b"in the instance"))]).await;
    let dec = ok(&c, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap())]).await;
    assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), b"in the instance");
    // By ARN and by alias, like any key.
    let arn = made["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    ok(&c, "DescribeKey", &[("KeyId", &arn)]).await;
    ok(&c, "CreateAlias", &[("AliasName", "alias/in-instance"), ("KeyId", &key_id)]).await;
    ok(&c, "Encrypt", &[("KeyId", "alias/in-instance"), ("Plaintext", "eA==")]).await;
    ok(&c, "DeleteAlias", &[("AliasName", "alias/in-instance")]).await;

    // ListKeys by instance: exactly its keys.
    let filter = format!(r#"[{{"Key":"DKMSInstanceId","Values":["{id}"]}}]"#);
    let listed = ok(&c, "ListKeys", &[("Filters", &filter)]).await;
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    assert_eq!(listed["Keys"]["Key"][0]["KeyId"], key_id.as_str());
    assert_eq!(ok(&c, "ListKeys", &[]).await["TotalCount"], 2, "without the filter: both");

    // Secrets: a key of the same instance is required.
    let secret = |name: &'static str, key: String| {
        let (id, c) = (id.clone(), c.clone());
        async move {
            let mut p = vec![("SecretName", name), ("VersionId", "v1"), ("SecretData", "in-instance")];
            p.push(("DKMSInstanceId", id.as_str()));
            if !key.is_empty() {
                p.push(("EncryptionKeyId", key.as_str()));
            }
            call(&c, "CreateSecret", &p).await
        }
    };
    assert_error(&secret("s0", String::new()).await, 400, "MissingParameter");
    assert_error(&secret("s0", plain.clone()).await, 400, "InvalidParameter");
    let r = secret("s1", key_id.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["DKMSInstanceId"], id.as_str());
    let d = ok(&c, "DescribeSecret", &[("SecretName", "s1")]).await;
    assert_eq!(d["DKMSInstanceId"], id.as_str());
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "s1")]).await["SecretData"], "in-instance");
    ok(&c, "CreateSecret", &[("SecretName", "plain"), ("VersionId", "v1"), ("SecretData", "x")]).await;
    assert!(ok(&c, "DescribeSecret", &[("SecretName", "plain")]).await.get("DKMSInstanceId").is_none());
    let listed = ok(&c, "ListSecrets", &[("Filters", &filter)]).await;
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    assert_eq!(listed["SecretList"]["Secret"][0]["SecretName"], "s1");

    // Quotas: one secret allowed (used), two keys allowed (one used).
    assert_error(&secret("s2", key_id.clone()).await, 400, "Rejected.LimitExceeded");
    ok(&c, "CreateKey", &in_it).await;
    assert_error(&call(&c, "CreateKey", &in_it).await, 400, "Rejected.LimitExceeded");
    let q = ok(&c, "GetKmsInstanceQuotaInfos", &[("KmsInstanceId", &id)]).await;
    assert_eq!(q["KmsInstanceQuotaInfos"][0], json!({"ResourceQuota": 2, "ResourceType": "key", "UsedQuantity": 2}));
    assert_eq!(q["KmsInstanceQuotaInfos"][1], json!({"ResourceQuota": 1, "ResourceType": "secret", "UsedQuantity": 1}));

    // Unknown and released instances: the not-found code.
    let unknown = [("DKMSInstanceId", "kst-hzz000000000000000000")];
    assert_error(&call(&c, "CreateKey", &unknown).await, 403, "Forbidden.DKMSInstanceNotFound");
    // Holding keys and secrets, it is released only with ForceDeleteWithoutBackup (no backups
    // here), and takes them with it; default resources stay.
    let r = call(&c, "ReleaseKmsInstance", &[("KmsInstanceId", &id)]).await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(r.text().contains("ForceDeleteWithoutBackup"), "{}", r.text());
    let r = call(&c, "ReleaseKmsInstance", &[("KmsInstanceId", &id), ("ForceDeleteWithoutBackup", "true")]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_error(&call(&c, "CreateKey", &in_it).await, 403, "Forbidden.DKMSInstanceNotFound");
    assert_error(&secret("s3", key_id.clone()).await, 403, "Forbidden.DKMSInstanceNotFound");
    assert_error(&call(&c, "DescribeKey", &[("KeyId", &key_id)]).await, 404, "Forbidden.KeyNotFound");
    assert_error(&call(&c, "DescribeSecret", &[("SecretName", "s1")]).await, 404, "Forbidden.ResourceNotFound");
    assert_eq!(ok(&c, "ListKeys", &[("Filters", &filter)]).await["TotalCount"], 0);
    assert_eq!(
        ok(&c, "ListKeys", &[]).await["TotalCount"],
        2,
        "the default keys stay (plain, and the default secrets key)"
    );
    ok(&c, "DescribeSecret", &[("SecretName", "plain")]).await;
}

/// Every action of the table is served on GET as on POST (Terraform sends
/// UpdateKmsInstanceBindVpc as GET; the old SDK sends a few others so): sent without its
/// parameters, each answers as the action (success or a parameter/resource error), never with
/// an unknown-action or method code, and the same way on both methods.
#[tokio::test]
async fn every_action_is_served_on_get_and_post() {
    let k = start();
    let c = k.client();
    for action in kms_wire::Action::ALL {
        let name = action.as_str();
        let post = c.send(Call::new(name, &[])).await;
        let get = c.send(Call::new(name, &[]).get()).await;
        for r in [&post, &get] {
            if r.status != 200 {
                let code = r.code();
                assert!(
                    !["InvalidAction.NotFound", "UnsupportedHTTPMethod"].contains(&code.as_str()),
                    "{name}: {}",
                    r.text()
                );
            }
        }
        let outcome = |r: &Resp| if r.status == 200 { "OK".to_owned() } else { r.code() };
        // Actions that create something differ only by the thing made; compare outcomes.
        assert_eq!((get.status, outcome(&get)), (post.status, outcome(&post)), "{name}");
    }
}

/// What Terraform's `alicloud_kms_instance` Update sends besides BindVpc: a new name
/// (UpdateKmsInstance), deletion protection by `KmsInstanceId`, and tags with
/// `ResourceType=instance`. A protected instance is not released until protection is off.
#[tokio::test]
async fn an_instance_is_renamed_protected_and_tagged() {
    let k = start();
    let c = k.client();
    let id = create_instance(&k, &[]);
    let form = |action: &'static str, params: Vec<(&'static str, String)>| {
        let c = &c;
        async move {
            let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.send(Call::new(action, &pairs).placed(Placement::Form)).await
        }
    };
    let get = || async { ok(&c, "GetKmsInstance", &[("KmsInstanceId", &id)]).await["KmsInstance"].clone() };

    assert_eq!(
        form("UpdateKmsInstance", vec![("KmsInstanceId", id.clone()), ("InstanceName", "prod-kms".into())])
            .await
            .status,
        200
    );
    assert_eq!(get().await["InstanceName"], "prod-kms");
    let r =
        form("UpdateKmsInstance", vec![("KmsInstanceId", "kst-hzznothere".into()), ("InstanceName", "x".into())]).await;
    assert_error(&r, 403, "Forbidden.DKMSInstanceNotFound");
    assert_error(&form("UpdateKmsInstance", vec![("KmsInstanceId", id.clone())]).await, 400, "MissingParameter");
    let listed = ok(&c, "ListKmsInstances", &[("Filters", r#"[{"Key":"InstanceName","Values":["prod-kms"]}]"#)]).await;
    assert_eq!(listed["KmsInstances"]["KmsInstance"][0]["KmsInstanceId"], id.as_str());

    // Deletion protection by KmsInstanceId alone (no key parameter).
    let protect = |on: &'static str| {
        form(
            "SetDeletionProtection",
            vec![
                ("KmsInstanceId", id.clone()),
                ("EnableDeletionProtection", on.into()),
                ("DeletionProtectionDescription", "production".into()),
            ],
        )
    };
    assert_eq!(protect("true").await.status, 200);
    let i = get().await;
    assert_eq!(
        (i["DeletionProtection"].clone(), i["DeletionProtectionDescription"].clone()),
        (json!(true), json!("production"))
    );
    let release =
        || form("ReleaseKmsInstance", vec![("KmsInstanceId", id.clone()), ("ForceDeleteWithoutBackup", "true".into())]);
    assert_error(&release().await, 400, "Rejected.UnsupportedOperation");
    assert_eq!(get().await["Status"], "Uninitialized", "a refused release changes nothing");
    assert_eq!(protect("false").await.status, 200);
    let i = get().await;
    assert_eq!(i["DeletionProtection"], false);
    assert!(i.get("DeletionProtectionDescription").is_none(), "{i}");

    // Tags: the batch tag actions with ResourceType=instance.
    let tag = form(
        "TagResources",
        vec![
            ("ResourceType", "instance".into()),
            ("ResourceId.1", id.clone()),
            ("RegionId", "cn-hangzhou".into()),
            ("Tag.1.Key", "env".into()),
            ("Tag.1.Value", "prod".into()),
        ],
    )
    .await;
    assert_eq!(tag.status, 200, "{}", tag.text());
    let tags =
        ok(&c, "ListTagResources", &[("ResourceType", "instance"), ("ResourceId.1", &id), ("RegionId", "cn-hangzhou")])
            .await;
    assert_eq!(
        tags["TagResources"]["TagResource"],
        json!([{"ResourceId": id, "ResourceType": "instance", "TagKey": "env", "TagValue": "prod"}])
    );
    let other = ok(&c, "ListTagResources", &[("ResourceType", "key"), ("RegionId", "cn-hangzhou")]).await;
    assert_eq!(other["TagResources"]["TagResource"], json!([]), "instance tags are not key tags");
    // An unknown instance: the code Terraform's tag read tolerates.
    let unknown =
        call(&c, "ListTagResources", &[("ResourceType", "instance"), ("ResourceId.1", "kst-hzznothere")]).await;
    assert_error(&unknown, 403, "Forbidden.DKMSInstanceNotFound");
    let r = form(
        "UntagResources",
        vec![("ResourceType", "instance".into()), ("ResourceId.1", id.clone()), ("TagKey.1", "env".into())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tags = ok(&c, "ListTagResources", &[("ResourceType", "instance"), ("ResourceId.1", &id)]).await;
    assert_eq!(tags["TagResources"]["TagResource"], json!([]));

    assert_eq!(release().await.status, 200);
    assert_error(&call(&c, "GetKmsInstance", &[("KmsInstanceId", &id)]).await, 403, "Forbidden.DKMSInstanceNotFound");
}
