//! The storage conformance suite: one set of assertions every engine must pass (Garage's
//! `db/test.rs` idea). Each engine's tests call [`run`] on a fresh, empty store.

use kms_types::{
    AliasName, KeyFilter, KeyId, KeySpec, KeyState, KeyUsage, KeyVersionId, Origin, ProtectionLevel,
};

use crate::{AccessKeyRecord, AliasRecord, KeyRecord, Store, StoreError, VersionRecord, Window};

fn key(created_at: i64, state: KeyState) -> (KeyRecord, VersionRecord) {
    let id = KeyId::generate();
    let version = KeyVersionId::generate();
    let k = KeyRecord {
        id: id.clone(),
        spec: KeySpec::Aes256,
        usage: KeyUsage::EncryptDecrypt,
        origin: Origin::AliyunKms,
        protection_level: ProtectionLevel::Software,
        state,
        description: format!("key made at {created_at}, ü"),
        creator: "1234567890123456".into(),
        created_at,
        primary_version: version.clone(),
        deletion_protection: false,
        delete_at: None,
    };
    let v = VersionRecord {
        id: version,
        key_id: id,
        created_at,
        material: vec![1, 2, 3, created_at as u8],
    };
    (k, v)
}

const ALL: Window = Window {
    offset: 0,
    limit: 100,
};

/// Runs every check against an empty store.
pub async fn run(store: &dyn Store) {
    meta(store).await;
    keys(store).await;
    aliases(store).await;
    access_keys(store).await;
}

async fn meta(store: &dyn Store) {
    assert_eq!(store.get_meta("account_id").await.unwrap(), None);
    assert_eq!(store.init_meta("account_id", "1").await.unwrap(), "1");
    // The first writer wins; later initialisations see its value.
    assert_eq!(store.init_meta("account_id", "2").await.unwrap(), "1");
    assert_eq!(
        store.get_meta("account_id").await.unwrap().as_deref(),
        Some("1")
    );
}

async fn keys(store: &dyn Store) {
    let (k1, v1) = key(100, KeyState::Enabled);
    let (k2, v2) = key(200, KeyState::Disabled);
    let (k3, v3) = key(300, KeyState::Enabled);
    for (k, v) in [(&k1, &v1), (&k2, &v2), (&k3, &v3)] {
        store.insert_key(k, v).await.unwrap();
    }
    assert_eq!(store.get_key(&k2.id).await.unwrap().as_ref(), Some(&k2));
    assert_eq!(store.get_version(&v3.id).await.unwrap().as_ref(), Some(&v3));
    assert_eq!(store.get_key(&KeyId::generate()).await.unwrap(), None);
    assert_eq!(
        store.get_version(&KeyVersionId::generate()).await.unwrap(),
        None
    );
    assert!(matches!(
        store.insert_key(&k1, &v1).await,
        Err(StoreError::Conflict)
    ));

    let all = store.list_keys(&KeyFilter::default(), ALL).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        all.items,
        vec![k1.clone(), k2.clone(), k3.clone()],
        "oldest first"
    );
    let page2 = store
        .list_keys(
            &KeyFilter::default(),
            Window {
                offset: 1,
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!((page2.total, page2.items), (3, vec![k2.clone()]));
    let enabled = KeyFilter {
        states: Some(vec![KeyState::Enabled]),
        ..Default::default()
    };
    let got = store.list_keys(&enabled, ALL).await.unwrap();
    assert_eq!((got.total, got.items), (2, vec![k1.clone(), k3.clone()]));
    let either = KeyFilter {
        states: Some(vec![KeyState::Enabled, KeyState::Disabled]),
        ..Default::default()
    };
    assert_eq!(store.list_keys(&either, ALL).await.unwrap().total, 3);
    let none = KeyFilter {
        usages: Some(vec![KeyUsage::SignVerify]),
        ..Default::default()
    };
    assert_eq!(store.list_keys(&none, ALL).await.unwrap().total, 0);
}

async fn aliases(store: &dyn Store) {
    let (k1, v1) = key(400, KeyState::Enabled);
    let (k2, v2) = key(500, KeyState::Enabled);
    store.insert_key(&k1, &v1).await.unwrap();
    store.insert_key(&k2, &v2).await.unwrap();
    let name = |s: &str| AliasName::parse(s).unwrap();
    let a = AliasRecord {
        name: name("alias/b"),
        key_id: k1.id.clone(),
        created_at: 1,
    };
    store.insert_alias(&a).await.unwrap();
    let clash = AliasRecord {
        key_id: k2.id.clone(),
        ..a.clone()
    };
    assert!(matches!(
        store.insert_alias(&clash).await,
        Err(StoreError::Conflict)
    ));
    store
        .insert_alias(&AliasRecord {
            name: name("alias/a"),
            key_id: k1.id.clone(),
            created_at: 2,
        })
        .await
        .unwrap();
    store
        .insert_alias(&AliasRecord {
            name: name("alias/c"),
            key_id: k2.id.clone(),
            created_at: 3,
        })
        .await
        .unwrap();

    let listed = store.list_aliases(None, ALL).await.unwrap();
    let names: Vec<&str> = listed.items.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        (listed.total, names),
        (3, vec!["alias/a", "alias/b", "alias/c"])
    );
    let of_k1 = store
        .list_aliases(
            Some(&k1.id),
            Window {
                offset: 1,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(of_k1.total, 2);
    assert_eq!(
        of_k1
            .items
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        vec!["alias/b"]
    );

    store.update_alias(&name("alias/b"), &k2.id).await.unwrap();
    assert_eq!(
        store
            .get_alias(&name("alias/b"))
            .await
            .unwrap()
            .unwrap()
            .key_id,
        k2.id
    );
    assert!(matches!(
        store.update_alias(&name("alias/zz"), &k2.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_alias(&name("alias/b")).await.unwrap();
    assert_eq!(store.get_alias(&name("alias/b")).await.unwrap(), None);
    assert!(matches!(
        store.delete_alias(&name("alias/b")).await,
        Err(StoreError::NotFound)
    ));
}

async fn access_keys(store: &dyn Store) {
    let ak = AccessKeyRecord {
        id: "LTAI-test".into(),
        wrapped_secret: vec![9; 40],
        enabled: true,
        created_at: 5,
    };
    store.insert_access_key(&ak).await.unwrap();
    assert!(matches!(
        store.insert_access_key(&ak).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.list_access_keys().await.unwrap(), vec![ak]);
}
