//! Tags on keys at the wire: single-resource and batch actions, limits, paging, ListKeys
//! filters.

mod common;

use common::*;
use serde_json::json;

fn tags_of(v: &serde_json::Value) -> Vec<(String, String)> {
    v["Tags"]["Tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["TagKey"].as_str().unwrap().to_owned(), t["TagValue"].as_str().unwrap().to_owned()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn single_resource_tagging() {
    let k = start();
    let c = k.client();
    let created =
        ok(&c, "CreateKey", &[("Tags", r#"[{"TagKey":"team","TagValue":"pay"},{"TagKey":"env","TagValue":"prod"}]"#)])
            .await;
    let key = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let listed = ok(&c, "ListResourceTags", &[("KeyId", &key)]).await;
    assert_eq!(tags_of(&listed), pairs(&[("env", "prod"), ("team", "pay")]));
    assert_eq!(listed["Tags"]["Tag"][0]["KeyId"], key.as_str());

    ok(&c, "CreateAlias", &[("AliasName", "alias/tagged"), ("KeyId", &key)]).await;
    ok(
        &c,
        "TagResource",
        &[
            ("KeyId", "alias/tagged"),
            ("Tags", r#"[{"TagKey":"team","TagValue":"ops"},{"TagKey":"tier","TagValue":"1"}]"#),
        ],
    )
    .await;
    assert_eq!(
        tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &key)]).await),
        pairs(&[("env", "prod"), ("team", "ops"), ("tier", "1")])
    );
    ok(&c, "UntagResource", &[("KeyId", &key), ("TagKeys", r#"["team","nope"]"#)]).await;
    ok(&c, "UntagResource", &[("KeyId", &key), ("TagKeys", "tier")]).await;
    assert_eq!(tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &key)]).await), pairs(&[("env", "prod")]));

    // Twenty tags per key at most; a refused request changes nothing.
    let nineteen: Vec<String> = (0..19).map(|i| format!(r#"{{"TagKey":"k{i:02}","TagValue":"v"}}"#)).collect();
    ok(&c, "TagResource", &[("KeyId", &key), ("Tags", &format!("[{}]", nineteen.join(",")))]).await;
    let r =
        call(&c, "TagResource", &[("KeyId", &key), ("Tags", r#"[{"TagKey":"one-too-many","TagValue":"v"}]"#)]).await;
    assert_error(&r, 400, "Rejected.LimitExceeded");
    assert_eq!(ok(&c, "ListResourceTags", &[("KeyId", &key)]).await["Tags"]["Tag"].as_array().unwrap().len(), 20);
    // Overwriting an existing key is not a new tag.
    ok(&c, "TagResource", &[("KeyId", &key), ("Tags", r#"[{"TagKey":"env","TagValue":"dev"}]"#)]).await;

    for bad in [
        "[]",
        "not json",
        r#"[{"TagKey":"aliyun-x","TagValue":"v"}]"#,
        r#"[{"TagKey":"a","TagValue":"v"},{"TagKey":"a","TagValue":"w"}]"#,
        r#"[{"TagKey":"k","TagValue":"bad#"}]"#,
    ] {
        assert_error(&call(&c, "TagResource", &[("KeyId", &key), ("Tags", bad)]).await, 400, "InvalidParameter");
        assert_error(&call(&c, "CreateKey", &[("Tags", bad)]).await, 400, "InvalidParameter");
    }
    assert_error(
        &call(&c, "TagResource", &[("Tags", r#"[{"TagKey":"k","TagValue":"v"}]"#)]).await,
        400,
        "MissingParameter",
    );
    assert_error(&call(&c, "TagResource", &[("KeyId", &key)]).await, 400, "MissingParameter");
    assert_error(
        &call(&c, "TagResource", &[("SecretName", "s"), ("Tags", r#"[{"TagKey":"k","TagValue":"v"}]"#)]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
    assert_error(&call(&c, "UntagResource", &[("KeyId", &key), ("TagKeys", "a,,b")]).await, 400, "InvalidParameter");
    assert_error(&call(&c, "ListResourceTags", &[("KeyId", "alias/none")]).await, 404, "Forbidden.AliasNotFound");

    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
    assert_error(
        &call(&c, "TagResource", &[("KeyId", &key), ("Tags", r#"[{"TagKey":"k","TagValue":"v"}]"#)]).await,
        409,
        "Rejected.PendingDeletion",
    );
    assert_error(
        &call(&c, "UntagResource", &[("KeyId", &key), ("TagKeys", "env")]).await,
        409,
        "Rejected.PendingDeletion",
    );
    ok(&c, "ListResourceTags", &[("KeyId", &key)]).await;
}

#[tokio::test]
async fn batch_tagging_and_listing() {
    let k = start();
    let c = k.client();
    let (a, b) = (new_key(&c).await, new_key(&c).await);
    let tag_both = [
        ("ResourceType", "key"),
        ("ResourceId.1", a.as_str()),
        ("ResourceId.2", b.as_str()),
        ("Tag.1.Key", "team"),
        ("Tag.1.Value", "pay"),
        ("Tag.2.Key", "env"),
        ("Tag.2.Value", "prod"),
    ];
    ok(&c, "TagResources", &tag_both).await;
    assert_eq!(
        tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &b)]).await),
        pairs(&[("env", "prod"), ("team", "pay")])
    );

    let listed = ok(&c, "ListTagResources", &[("ResourceType", "key"), ("ResourceId.1", &a)]).await;
    assert_eq!(listed["NextToken"], "");
    assert_eq!(
        listed["TagResources"]["TagResource"],
        json!([
            {"ResourceId": a, "ResourceType": "key", "TagKey": "env", "TagValue": "prod"},
            {"ResourceId": a, "ResourceType": "key", "TagKey": "team", "TagValue": "pay"},
        ])
    );
    let filtered =
        ok(&c, "ListTagResources", &[("ResourceType", "key"), ("Tag.1.Key", "team"), ("Tag.1.Value", "pay")]).await;
    assert_eq!(filtered["TagResources"]["TagResource"].as_array().unwrap().len(), 2);

    ok(
        &c,
        "UntagResources",
        &[("ResourceType", "key"), ("ResourceId.1", &a), ("TagKey.1", "team"), ("TagKey.2", "unknown")],
    )
    .await;
    assert_eq!(tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &a)]).await), pairs(&[("env", "prod")]));
    ok(&c, "UntagResources", &[("ResourceType", "key"), ("ResourceId.1", &b), ("All", "true")]).await;
    assert!(tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &b)]).await).is_empty());

    let missing = "11111111-2222-3333-4444-555555555555";
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("ResourceType", "key"), ("ResourceId.1", a.as_str()), ("ResourceId.2", missing), ("Tag.1.Key", "x")],
            404,
            "InvalidResourceId.NotFound",
        ),
        (
            vec![("ResourceType", "key"), ("ResourceId.1", a.as_str()), ("Tag.1.Key", "x"), ("Tag.2.Key", "x")],
            400,
            "Duplicate.TagKey",
        ),
        (
            vec![("ResourceType", "key"), ("ResourceId.1", a.as_str()), ("Tag.1.Key", "acs:x")],
            400,
            "InvalidParameter.TagKey",
        ),
        (
            vec![("ResourceType", "key"), ("ResourceId.1", a.as_str()), ("Tag.1.Key", "x"), ("Tag.1.Value", "#")],
            400,
            "InvalidParameter.TagValue",
        ),
        (vec![("ResourceType", "key"), ("Tag.1.Key", "x")], 400, "MissingParameter"),
        (vec![("ResourceType", "disk"), ("ResourceId.1", a.as_str()), ("Tag.1.Key", "x")], 400, "InvalidParameter"),
        (
            vec![("ResourceType", "secret"), ("ResourceId.1", "s1"), ("Tag.1.Key", "x")],
            404,
            "InvalidResourceId.NotFound",
        ),
    ];
    for (p, status, code) in cases {
        assert_error(&call(&c, "TagResources", &p).await, status, code);
    }
    // The refused batch tagged neither resource.
    assert!(tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &b)]).await).is_empty());
    assert_error(
        &call(&c, "UntagResources", &[("ResourceType", "key"), ("ResourceId.1", &a)]).await,
        400,
        "MissingParameter",
    );
    assert_error(
        &call(&c, "ListTagResources", &[("ResourceType", "key"), ("ResourceId.1", missing)]).await,
        404,
        "InvalidResourceId.NotFound",
    );
    assert_error(
        &call(&c, "ListTagResources", &[("ResourceType", "key"), ("NextToken", "%%%")]).await,
        400,
        "InvalidParameter",
    );
}

#[tokio::test]
async fn list_tag_resources_pages_with_next_token() {
    let k = start();
    let c = k.client();
    // 11 keys × 20 tags = 220 rows: two pages of at most 200.
    let mut expected = Vec::new();
    for _ in 0..11 {
        let key = new_key(&c).await;
        let tags: Vec<String> = (0..20).map(|i| format!(r#"{{"TagKey":"k{i:02}","TagValue":"v{i}"}}"#)).collect();
        ok(&c, "TagResource", &[("KeyId", &key), ("Tags", &format!("[{}]", tags.join(",")))]).await;
        for i in 0..20 {
            expected.push((key.clone(), format!("k{i:02}")));
        }
    }
    expected.sort();
    let first = ok(&c, "ListTagResources", &[("ResourceType", "key")]).await;
    let token = first["NextToken"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    let second = ok(&c, "ListTagResources", &[("ResourceType", "key"), ("NextToken", &token)]).await;
    assert_eq!(second["NextToken"], "");
    let rows: Vec<(String, String)> = [first, second]
        .iter()
        .flat_map(|p| p["TagResources"]["TagResource"].as_array().unwrap().clone())
        .map(|r| (r["ResourceId"].as_str().unwrap().to_owned(), r["TagKey"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(rows.len(), 220);
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn list_keys_filters_on_tags() {
    let k = start();
    let c = k.client();
    let a = ok(&c, "CreateKey", &[("Tags", r#"[{"TagKey":"team","TagValue":"pay"}]"#)]).await["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = ok(&c, "CreateKey", &[("Tags", r#"[{"TagKey":"team","TagValue":"ops"}]"#)]).await["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    new_key(&c).await;
    let ids = |v: serde_json::Value| -> Vec<String> {
        v["Keys"]["Key"].as_array().unwrap().iter().map(|k| k["KeyId"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        ids(ok(&c, "ListKeys", &[("Filters", r#"[{"Key":"TagKey","Values":["team"]}]"#)]).await),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(ids(ok(&c, "ListKeys", &[("Filters", r#"[{"Key":"TagValue","Values":["ops"]}]"#)]).await), vec![b]);
    let both = r#"[{"Key":"TagKey","Values":["team"]},{"Key":"TagValue","Values":["pay","nope"]}]"#;
    assert_eq!(ids(ok(&c, "ListKeys", &[("Filters", both)]).await), vec![a]);
}
