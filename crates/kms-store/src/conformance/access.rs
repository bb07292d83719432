//! Application access: named objects per kind, and ClientKeys that never outlive their AAP.

use crate::{AccessKind, AccessObjectRecord, ClientKeyRecord, Store, StoreError, Window};

const ALL: Window = Window { offset: 0, limit: 100 };

fn object(kind: AccessKind, name: &str, created_at: i64) -> AccessObjectRecord {
    AccessObjectRecord {
        kind,
        name: name.into(),
        body: format!(r#"{{"made":{created_at},"text":"ü"}}"#),
        created_at,
        revision: 1,
    }
}

fn client_key(id: &str, aap: &str, created_at: i64) -> ClientKeyRecord {
    ClientKeyRecord {
        id: id.into(),
        aap_name: aap.into(),
        key_algorithm: "RSA_2048".into(),
        not_before: "2023-09-01T14:11:22Z".into(),
        not_after: "2028-09-01T14:11:22Z".into(),
        certificate_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        created_at,
    }
}

pub(super) async fn run(store: &dyn Store) {
    let mut seen = store.access_generation().await.unwrap();
    generation_moves(store, &mut seen, false, "a fresh store").await;
    // One name per kind: the same name in another kind is another object.
    for kind in AccessKind::ALL {
        assert_eq!(store.list_access_objects(kind, ALL).await.unwrap().total, 0);
        store.insert_access_object(&object(kind, "shared-name", 5)).await.unwrap();
        let again = store.insert_access_object(&object(kind, "shared-name", 6)).await;
        assert!(matches!(again, Err(StoreError::Conflict)), "{kind:?}: duplicate name");
        assert_eq!(store.get_access_object(kind, "shared-name").await.unwrap(), Some(object(kind, "shared-name", 5)));
        assert_eq!(store.get_access_object(kind, "other").await.unwrap(), None);
        generation_moves(store, &mut seen, true, "inserts (a refused duplicate aside)").await;
    }

    // Oldest first, then by name; paged with the total.
    let kind = AccessKind::Policy;
    store.insert_access_object(&object(kind, "b", 3)).await.unwrap();
    store.insert_access_object(&object(kind, "a", 3)).await.unwrap();
    let all = store.list_access_objects(kind, ALL).await.unwrap();
    let names: Vec<_> = all.items.iter().map(|o| o.name.as_str()).collect();
    assert_eq!((names, all.total), (vec!["a", "b", "shared-name"], 3));
    let page = store.list_access_objects(kind, Window { offset: 1, limit: 1 }).await.unwrap();
    assert_eq!((page.items, page.total), (vec![object(kind, "b", 3)], 3));

    // Compare-and-set on the revision.
    let changed = AccessObjectRecord { body: r#"{"changed":true}"#.into(), ..object(kind, "a", 3) };
    generation_moves(store, &mut seen, true, "inserts").await;
    let stored = store.update_access_object(&changed).await.unwrap();
    generation_moves(store, &mut seen, true, "an update").await;
    assert_eq!(stored, AccessObjectRecord { revision: 2, ..changed.clone() });
    assert_eq!(store.get_access_object(kind, "a").await.unwrap(), Some(stored));
    assert!(matches!(store.update_access_object(&changed).await, Err(StoreError::Conflict)), "stale revision");
    let ghost = object(kind, "ghost", 1);
    assert!(matches!(store.update_access_object(&ghost).await, Err(StoreError::NotFound)));
    // Another kind's object of that name is untouched.
    assert_eq!(
        store.get_access_object(AccessKind::NetworkRule, "shared-name").await.unwrap(),
        Some(object(AccessKind::NetworkRule, "shared-name", 5))
    );

    generation_moves(store, &mut seen, false, "refused updates and reads").await;
    store.delete_access_object(kind, "a").await.unwrap();
    generation_moves(store, &mut seen, true, "a delete").await;
    assert_eq!(store.get_access_object(kind, "a").await.unwrap(), None);
    assert!(matches!(store.delete_access_object(kind, "a").await, Err(StoreError::NotFound)));
    assert!(store.get_access_object(AccessKind::AccessPoint, "shared-name").await.unwrap().is_some());

    // ClientKeys belong to an AAP that exists.
    let aap = "shared-name";
    let orphan = store.insert_client_key(&client_key("KAAP.orphan", "no-such-aap", 1)).await;
    assert!(matches!(orphan, Err(StoreError::NotFound)), "a ClientKey needs its AAP");
    assert_eq!(store.get_client_key("KAAP.orphan").await.unwrap(), None);
    let first = client_key("KAAP.2", aap, 10);
    let second = client_key("KAAP.1", aap, 11);
    generation_moves(store, &mut seen, false, "a refused ClientKey").await;
    store.insert_client_key(&first).await.unwrap();
    generation_moves(store, &mut seen, true, "a ClientKey").await;
    store.insert_client_key(&second).await.unwrap();
    assert!(matches!(store.insert_client_key(&first).await, Err(StoreError::Conflict)), "duplicate id");
    store.insert_access_object(&object(AccessKind::AccessPoint, "aap-2", 12)).await.unwrap();
    let third = client_key("KAAP.3", "aap-2", 12);
    store.insert_client_key(&third).await.unwrap();
    assert_eq!(store.get_client_key("KAAP.2").await.unwrap(), Some(first.clone()));
    assert_eq!(store.list_client_keys(Some(aap)).await.unwrap(), vec![first.clone(), second.clone()]);
    assert_eq!(store.list_client_keys(None).await.unwrap(), vec![first.clone(), second.clone(), third.clone()]);
    assert_eq!(store.list_client_keys(Some("nobody")).await.unwrap(), vec![]);

    // An AAP holding ClientKeys stays, and so do they.
    let busy = store.delete_access_object(AccessKind::AccessPoint, aap).await;
    assert!(matches!(busy, Err(StoreError::InUse)), "an AAP with ClientKeys: {busy:?}");
    assert_eq!(store.list_client_keys(Some(aap)).await.unwrap().len(), 2);
    generation_moves(store, &mut seen, true, "ClientKeys and an AAP").await;
    store.delete_client_key("KAAP.2").await.unwrap();
    generation_moves(store, &mut seen, true, "a ClientKey's delete").await;
    assert!(matches!(store.delete_client_key("KAAP.2").await, Err(StoreError::NotFound)));
    store.delete_client_key("KAAP.1").await.unwrap();
    store.delete_access_object(AccessKind::AccessPoint, aap).await.unwrap();
    let late = store.insert_client_key(&client_key("KAAP.late", aap, 20)).await;
    assert!(matches!(late, Err(StoreError::NotFound)), "no ClientKey for a deleted AAP");
    assert_eq!(store.list_client_keys(None).await.unwrap(), vec![third]);
}

/// Whether the access generation moved since `seen` (as `moved` says it must), then remembers it.
async fn generation_moves(store: &dyn Store, seen: &mut i64, moved: bool, after: &str) {
    let now = store.access_generation().await.unwrap();
    assert_eq!(now != *seen, moved, "access generation after {after}: {seen} → {now}");
    *seen = now;
}
