//! Application access at the wire (docs/design/instances.md §4): network rules, permission
//! policies, application access points and ClientKeys, driven the way Terraform drives them
//! (parameters in a form body; GetClientKey and ListClientKeys as GET), with the shapes its
//! parsers need, the not-found / exists / in-use codes, refusals that change nothing, the
//! PKCS#12 a ClientKey comes in — and a store that never holds its private key or password.

mod common;

use common::*;
use serde_json::{Value, json};

async fn form(c: &Client, action: &str, params: &[(&str, &str)]) -> Resp {
    c.send(Call::new(action, params).placed(Placement::Form)).await
}

async fn form_ok(c: &Client, action: &str, params: &[(&str, &str)]) -> Value {
    let r = form(c, action, params).await;
    assert_eq!(r.status, 200, "{action}: {}", r.text());
    r.json()
}

async fn get(c: &Client, action: &str, params: &[(&str, &str)]) -> Resp {
    c.send(Call::new(action, params).get()).await
}

const RULES: &str = "{\n  \"NetworkRules\": [\"office\"]\n}\n";
const KEY_USER: &str = "RbacPermission/Template/CryptoServiceKeyUser";

#[tokio::test]
async fn network_rules_policies_and_access_points_follow_terraform() {
    let k = start();
    let c = k.client();

    // Network rule: create → read → update → read.
    let made = form_ok(
        &c,
        "CreateNetworkRule",
        &[
            ("Name", "office"),
            ("Type", "Private"),
            ("SourcePrivateIp", r#"["10.0.0.1","10.0.1.0/24"]"#),
            ("Description", "d1"),
        ],
    )
    .await;
    assert_eq!(made["Name"], "office", "Terraform takes the id from Name");
    assert_eq!(made["SourcePrivateIp"], r#"["10.0.0.1","10.0.1.0/24"]"#, "a compact JSON-array string");
    let arn = made["Arn"].as_str().unwrap();
    assert!(arn.starts_with("acs:kms:cn-hangzhou:") && arn.ends_with(":network/office"), "{arn}");
    let read = ok(&c, "DescribeNetworkRule", &[("Name", "office")]).await;
    assert_eq!((read["Type"].clone(), read["Description"].clone()), (json!("Private"), json!("d1")));
    assert_eq!(read["SourcePrivateIp"], r#"["10.0.0.1","10.0.1.0/24"]"#);
    // Terraform sends SourcePrivateIp always and Description only when changed ("" clears).
    form_ok(&c, "UpdateNetworkRule", &[("Name", "office"), ("SourcePrivateIp", r#"["192.168.0.0/16"]"#)]).await;
    let read = ok(&c, "DescribeNetworkRule", &[("Name", "office")]).await;
    assert_eq!(
        (read["SourcePrivateIp"].clone(), read["Description"].clone()),
        (json!(r#"["192.168.0.0/16"]"#), json!("d1"))
    );
    form_ok(&c, "UpdateNetworkRule", &[("Name", "office"), ("Description", "")]).await;
    assert_eq!(ok(&c, "DescribeNetworkRule", &[("Name", "office")]).await["Description"], "");

    // Policy: Permissions/Resources are strings in the Create answer, arrays in Describe;
    // AccessControlRules comes back byte for byte.
    let made = form_ok(
        &c,
        "CreatePolicy",
        &[
            ("Name", "apps"),
            ("Permissions", &format!(r#"["{KEY_USER}"]"#)),
            ("Resources", r#"["key/*","secret/app-*"]"#),
            ("KmsInstance", "shared"),
            ("AccessControlRules", RULES),
            ("Description", "p"),
        ],
    )
    .await;
    assert_eq!(made["Permissions"], format!(r#"["{KEY_USER}"]"#));
    assert_eq!(made["Resources"], r#"["key/*","secret/app-*"]"#);
    assert!(made["Arn"].as_str().unwrap().ends_with(":policy/apps"));
    let read = ok(&c, "DescribePolicy", &[("Name", "apps")]).await;
    assert_eq!(read["Permissions"], json!([KEY_USER]));
    assert_eq!(read["Resources"], json!(["key/*", "secret/app-*"]));
    assert_eq!((read["AccessControlRules"].clone(), read["KmsInstance"].clone()), (json!(RULES), json!("shared")));
    form_ok(
        &c,
        "UpdatePolicy",
        &[("Name", "apps"), ("Permissions", "[]"), ("Resources", r#"["secret/*"]"#), ("AccessControlRules", "{}")],
    )
    .await;
    let read = ok(&c, "DescribePolicy", &[("Name", "apps")]).await;
    assert_eq!((read["Permissions"].clone(), read["Resources"].clone()), (json!([]), json!(["secret/*"])));
    assert_eq!((read["AccessControlRules"].clone(), read["Description"].clone()), (json!("{}"), json!("p")));

    // AAP: Policies a compact JSON-array string; names need not exist (as in the cloud).
    let made = form_ok(
        &c,
        "CreateApplicationAccessPoint",
        &[("Name", "aap1"), ("Policies", r#"["apps","not-yet"]"#), ("AuthenticationMethod", "ClientKey")],
    )
    .await;
    assert_eq!(
        (made["Policies"].clone(), made["AuthenticationMethod"].clone()),
        (json!(r#"["apps","not-yet"]"#), json!("ClientKey"))
    );
    assert!(made["Arn"].as_str().unwrap().ends_with(":applicationaccesspoint/aap1"));
    form_ok(&c, "UpdateApplicationAccessPoint", &[("Name", "aap1"), ("Policies", r#"["apps"]"#), ("Description", "a")])
        .await;
    let read = ok(&c, "DescribeApplicationAccessPoint", &[("Name", "aap1")]).await;
    assert_eq!((read["Policies"].clone(), read["Description"].clone()), (json!(r#"["apps"]"#), json!("a")));

    // Lists: wrapped, paged, default page size 20.
    let list = ok(&c, "ListNetworkRules", &[]).await;
    assert_eq!(list["NetworkRules"], json!({"NetworkRule": [{"Name": "office", "Type": "Private"}]}));
    assert_eq!(
        (list["PageNumber"].clone(), list["PageSize"].clone(), list["TotalCount"].clone()),
        (json!(1), json!(20), json!(1))
    );
    assert_eq!(ok(&c, "ListPolicies", &[]).await["Policies"], json!({"Policy": [{"Name": "apps"}]}));
    assert_eq!(
        ok(&c, "ListApplicationAccessPoints", &[]).await["ApplicationAccessPoints"],
        json!({"ApplicationAccessPoint": [{"Name": "aap1", "AuthenticationMethod": "ClientKey"}]})
    );
    for n in 0..4 {
        form_ok(&c, "CreateNetworkRule", &[("Name", &format!("r{n}")), ("Type", "Private")]).await;
    }
    let page = ok(&c, "ListNetworkRules", &[("PageNumber", "2"), ("PageSize", "2")]).await;
    assert_eq!(
        page["NetworkRules"]["NetworkRule"],
        json!([{"Name": "r1", "Type": "Private"}, {"Name": "r2", "Type": "Private"}])
    );
    assert_eq!(page["TotalCount"], 5);
    assert_error(&call(&c, "ListPolicies", &[("PageSize", "101")]).await, 400, "InvalidParameter");

    // Exists, not found, bad values: refused, nothing changes.
    let dup =
        form(&c, "CreateNetworkRule", &[("Name", "office"), ("Type", "Private"), ("SourcePrivateIp", "10.9.9.9")])
            .await;
    assert_error(&dup, 409, "Rejected.ResourceExist");
    assert_eq!(ok(&c, "DescribeNetworkRule", &[("Name", "office")]).await["SourcePrivateIp"], r#"["192.168.0.0/16"]"#);
    for (action, name) in [
        ("DescribeNetworkRule", "ghost"),
        ("DeleteNetworkRule", "ghost"),
        ("DescribePolicy", "ghost"),
        ("DeletePolicy", "ghost"),
        ("DescribeApplicationAccessPoint", "ghost"),
        ("DeleteApplicationAccessPoint", "ghost"),
        ("UpdateNetworkRule", "ghost"),
        ("UpdateApplicationAccessPoint", "ghost"),
    ] {
        assert_error(&form(&c, action, &[("Name", name)]).await, 404, "Forbidden.ResourceNotFound");
    }
    let bad = [
        ("CreateNetworkRule", vec![("Name", "n"), ("Type", "Public")]),
        ("CreateNetworkRule", vec![("Name", "n"), ("Type", "Private"), ("SourcePrivateIp", "10.0.0.256")]),
        ("CreatePolicy", vec![("Name", "n"), ("Permissions", r#"["kms:*"]"#), ("Resources", "[]")]),
        ("CreatePolicy", vec![("Name", "n"), ("Permissions", "[]"), ("Resources", r#"["alias/*"]"#)]),
        ("CreateApplicationAccessPoint", vec![("Name", "n"), ("Policies", r#"["a","b","c","d"]"#)]),
        ("UpdatePolicy", vec![("Name", "apps"), ("AccessControlRules", r#"{"NetworkRules":"office"}"#)]),
    ];
    for (action, params) in bad {
        assert_error(&form(&c, action, &params).await, 400, "InvalidParameter");
    }
    assert_error(&form(&c, "CreateNetworkRule", &[("Name", ""), ("Type", "Private")]).await, 400, "MissingParameter");
    let unknown = form(
        &c,
        "CreatePolicy",
        &[("Name", "n"), ("Permissions", "[]"), ("Resources", "[]"), ("KmsInstance", "kst-hzzunknown")],
    )
    .await;
    assert_error(&unknown, 403, "Forbidden.DKMSInstanceNotFound");
    assert_error(&call(&c, "DescribePolicy", &[("Name", "n")]).await, 404, "Forbidden.ResourceNotFound");
    assert_eq!(ok(&c, "DescribePolicy", &[("Name", "apps")]).await["AccessControlRules"], "{}");

    // In use: a rule a policy names, a policy an AAP names.
    form_ok(&c, "UpdatePolicy", &[("Name", "apps"), ("AccessControlRules", RULES)]).await;
    assert_error(&form(&c, "DeleteNetworkRule", &[("Name", "office")]).await, 409, "Rejected.ResourceInUse");
    assert_error(&form(&c, "DeletePolicy", &[("Name", "apps")]).await, 409, "Rejected.ResourceInUse");
    ok(&c, "DescribeNetworkRule", &[("Name", "office")]).await;
    // Delete in Terraform's destroy order: AAP, policy, rule; then gone (404).
    form_ok(&c, "DeleteApplicationAccessPoint", &[("Name", "aap1")]).await;
    form_ok(&c, "DeletePolicy", &[("Name", "apps")]).await;
    form_ok(&c, "DeleteNetworkRule", &[("Name", "office")]).await;
    assert_error(&call(&c, "DescribeNetworkRule", &[("Name", "office")]).await, 404, "Forbidden.ResourceNotFound");
    assert_error(&call(&c, "DescribePolicy", &[("Name", "apps")]).await, 404, "Forbidden.ResourceNotFound");
    assert_error(
        &call(&c, "DescribeApplicationAccessPoint", &[("Name", "aap1")]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
    // A name is free again once deleted.
    form_ok(&c, "CreateNetworkRule", &[("Name", "office"), ("Type", "Private")]).await;
}

#[tokio::test]
async fn a_client_key_is_a_pkcs12_whose_private_half_kmsd_never_keeps() {
    let k = start();
    let c = k.client();
    form_ok(&c, "CreateApplicationAccessPoint", &[("Name", "aap"), ("Policies", r#"["p"]"#)]).await;
    let password = "Kmsd-ClientKey-Pass1";
    let made = form_ok(
        &c,
        "CreateClientKey",
        &[
            ("AapName", "aap"),
            ("Password", password),
            ("NotBefore", "2023-09-01T14:11:22Z"),
            ("NotAfter", "2033-09-01T14:11:22Z"),
        ],
    )
    .await;
    let id = made["ClientKeyId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("KAAP.") && id.len() == 41, "{id}");
    assert_eq!(made["KeyAlgorithm"], "RSA_2048");
    assert_eq!(
        (made["NotBefore"].clone(), made["NotAfter"].clone()),
        (json!("2023-09-01T14:11:22Z"), json!("2033-09-01T14:11:22Z"))
    );
    let data = made["PrivateKeyData"].as_str().unwrap();
    assert!(!data.contains('\n'), "one line of base64");
    let p12 = unb64(data);

    // The file: the password opens it; one RSA-2048 key with its certificate, named by the id.
    let store = p12_keystore::KeyStore::from_pkcs12(&p12, password, p12_keystore::Pkcs12ImportPolicy::Relaxed).unwrap();
    let (alias, chain) = store.private_key_chain().expect("a private key with its certificate");
    assert_eq!(alias, id);
    let key = aws_lc_rs::rsa::KeyPair::from_pkcs8(chain.key().as_der()).unwrap();
    assert_eq!(key.public_modulus_len(), 256, "RSA-2048");
    assert!(
        p12_keystore::KeyStore::from_pkcs12(&p12, "Wrong-Pass1", p12_keystore::Pkcs12ImportPolicy::Relaxed).is_err()
    );

    // GetClientKey and ListClientKeys are GETs; PublicKeyData is that certificate.
    let r = get(&c, "GetClientKey", &[("ClientKeyId", &id)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    assert_eq!((got["ClientKeyId"].clone(), got["AapName"].clone()), (json!(id), json!("aap")));
    assert_eq!((got["KeyOrigin"].clone(), got["KeyAlgorithm"].clone()), (json!("KMS_PROVIDED"), json!("RSA_2048")));
    assert_eq!(
        (got["NotBefore"].clone(), got["NotAfter"].clone()),
        (json!("2023-09-01T14:11:22Z"), json!("2033-09-01T14:11:22Z"))
    );
    assert!(got.get("PrivateKeyData").is_none());
    let pem = got["PublicKeyData"].as_str().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(unb64(&body), chain.certs()[0].as_der(), "PublicKeyData is the key's certificate");
    let listed = get(&c, "ListClientKeys", &[("AapName", "aap")]).await.json();
    assert_eq!(listed["ClientKeys"].as_array().unwrap().len(), 1);
    assert_eq!(listed["ClientKeys"][0]["ClientKeyId"], id.as_str());
    assert_eq!(get(&c, "ListClientKeys", &[("AapName", "other")]).await.json()["ClientKeys"], json!([]));

    // Without dates: now until five years on.
    let plain = form_ok(&c, "CreateClientKey", &[("AapName", "aap"), ("Password", "abcd1234")]).await;
    let (nb, na) = (plain["NotBefore"].as_str().unwrap(), plain["NotAfter"].as_str().unwrap());
    let year = |t: &str| t[..4].parse::<i32>().unwrap();
    assert_eq!(year(na) - year(nb), 5, "{nb} {na}");

    // What the store holds: the certificate, never the private key or the password.
    let stored = store_contents(&k.data_dir);
    assert!(holds(&stored, chain.certs()[0].as_der()) || String::from_utf8_lossy(&stored).contains(&body[..64]));
    assert!(!holds(&stored, chain.key().as_der()), "the private key reached the store");
    assert!(!holds(&stored, password.as_bytes()), "the password reached the store");
    let audit = std::fs::read_to_string(k.data_dir.join("audit.log")).unwrap();
    assert!(!audit.contains(password) && !audit.contains(&data[..64]), "a secret reached the audit trail");
    assert!(audit.contains(":applicationaccesspoint/aap"), "the trail names the AAP");

    // Refusals that change nothing.
    let count = || async { get(&c, "ListClientKeys", &[]).await.json()["ClientKeys"].as_array().unwrap().len() };
    for (params, status, code) in [
        (vec![("AapName", "ghost"), ("Password", "abcd1234")], 404, "Forbidden.ResourceNotFound"),
        (vec![("AapName", "aap"), ("Password", "short1")], 400, "InvalidParameter"),
        (vec![("AapName", "aap"), ("Password", "onlyletters")], 400, "InvalidParameter"),
        (
            vec![("AapName", "aap"), ("Password", "abcd1234"), ("NotBefore", "2023-09-01T14:11:22Z")],
            400,
            "MissingParameter",
        ),
        (
            vec![
                ("AapName", "aap"),
                ("Password", "abcd1234"),
                ("NotBefore", "2030-01-01T00:00:00Z"),
                ("NotAfter", "2029-01-01T00:00:00Z"),
            ],
            400,
            "InvalidParameter",
        ),
        (
            vec![("AapName", "aap"), ("Password", "abcd1234"), ("NotBefore", "2030-01-01"), ("NotAfter", "2031-01-01")],
            400,
            "InvalidParameter",
        ),
    ] {
        assert_error(&form(&c, "CreateClientKey", &params).await, status, code);
    }
    assert_eq!(count().await, 2);

    // An AAP holding ClientKeys is in use; once they are gone it can go.
    assert_error(&form(&c, "DeleteApplicationAccessPoint", &[("Name", "aap")]).await, 409, "Rejected.ResourceInUse");
    form_ok(&c, "DeleteClientKey", &[("ClientKeyId", &id)]).await;
    assert_error(&get(&c, "GetClientKey", &[("ClientKeyId", &id)]).await, 404, "Forbidden.ResourceNotFound");
    assert_error(&form(&c, "DeleteClientKey", &[("ClientKeyId", &id)]).await, 404, "Forbidden.ResourceNotFound");
    form_ok(&c, "DeleteClientKey", &[("ClientKeyId", plain["ClientKeyId"].as_str().unwrap())]).await;
    form_ok(&c, "DeleteApplicationAccessPoint", &[("Name", "aap")]).await;
}

/// `kms:<Action>` on the ARNs of the objects named: an application limited to reading its
/// own policy may do exactly that.
#[tokio::test]
async fn identity_policies_govern_application_access() {
    let k = start();
    let admin_client = k.client();
    form_ok(&admin_client, "CreatePolicy", &[("Name", "mine"), ("Permissions", "[]"), ("Resources", "[]")]).await;
    form_ok(&admin_client, "CreatePolicy", &[("Name", "theirs"), ("Permissions", "[]"), ("Resources", "[]")]).await;
    let reader = r#"{"Version":"1","Statement":[
      {"Effect":"Allow","Action":["kms:DescribePolicy"],"Resource":"acs:kms:*:*:policy/mine"}]}"#;
    let (app, _) = app(&k, "reader", Some(reader)).await;
    ok(&app, "DescribePolicy", &[("Name", "mine")]).await;
    assert_error(&call(&app, "DescribePolicy", &[("Name", "theirs")]).await, 403, "Forbidden.NoPermission");
    let denied = form(&app, "CreatePolicy", &[("Name", "new"), ("Permissions", "[]"), ("Resources", "[]")]).await;
    assert_error(&denied, 403, "Forbidden.NoPermission");
    assert_error(&call(&admin_client, "DescribePolicy", &[("Name", "new")]).await, 404, "Forbidden.ResourceNotFound");
    assert_error(&form(&app, "DeletePolicy", &[("Name", "mine")]).await, 403, "Forbidden.NoPermission");
    ok(&admin_client, "DescribePolicy", &[("Name", "mine")]).await;
}
