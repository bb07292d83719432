//! KMS instances: compare-and-set updates, and the quota their keys and secrets are counted
//! against in the same write.

use super::*;

pub(super) async fn run(store: &dyn Store) {
    let a = InstanceRecord {
        id: "kst-hzz000000000000000001".into(),
        name: "kst-hzz000000000000000001".into(),
        status: "Uninitialized".into(),
        spec: 1000,
        key_num: 1000,
        secret_num: 100,
        vpc_num: 1,
        vpc_id: None,
        zone_ids: String::new(),
        vswitch_ids: String::new(),
        bind_vpcs: "[]".into(),
        created_at: 20,
        started_at: None,
        deletion_protection: false,
        deletion_protection_description: String::new(),
        released: false,
        revision: 1,
    };
    let b = InstanceRecord { id: "kst-hzz000000000000000000".into(), name: "b".into(), created_at: 30, ..a.clone() };
    assert_eq!(store.get_instance(&a.id).await.unwrap(), None);
    store.insert_instance(&b).await.unwrap();
    store.insert_instance(&a).await.unwrap();
    assert!(matches!(store.insert_instance(&a).await, Err(StoreError::Conflict)));
    assert_eq!(store.get_instance(&a.id).await.unwrap(), Some(a.clone()));
    // Oldest first, paged, with the total.
    let all = store.list_instances(ALL).await.unwrap();
    assert_eq!((all.items, all.total), (vec![a.clone(), b.clone()], 2));
    let second = store.list_instances(Window { offset: 1, limit: 1 }).await.unwrap();
    assert_eq!((second.items, second.total), (vec![b.clone()], 2));
    // Compare-and-set.
    let connected = InstanceRecord {
        status: "Connected".into(),
        vpc_id: Some("vpc-1".into()),
        zone_ids: "z-a,z-b".into(),
        vswitch_ids: "vsw-1".into(),
        bind_vpcs: r#"[{"VpcId":"vpc-2"}]"#.into(),
        started_at: Some(25),
        deletion_protection: true,
        deletion_protection_description: "protected, ü".into(),
        ..a.clone()
    };
    let stored = store.update_instance(&connected).await.unwrap();
    assert_eq!(stored, InstanceRecord { revision: 2, ..connected.clone() });
    assert_eq!(store.get_instance(&a.id).await.unwrap(), Some(stored.clone()));
    assert!(matches!(store.update_instance(&connected).await, Err(StoreError::Conflict)), "stale revision");
    let ghost = InstanceRecord { id: "kst-none".into(), ..a.clone() };
    assert!(matches!(store.update_instance(&ghost).await, Err(StoreError::NotFound)));
    // Released: still readable by id, never listed.
    let released = store.update_instance(&InstanceRecord { released: true, ..stored }).await.unwrap();
    assert!(store.get_instance(&a.id).await.unwrap().unwrap().released);
    assert_eq!(released.revision, 3);
    let all = store.list_instances(ALL).await.unwrap();
    assert_eq!((all.items, all.total), (vec![b.clone()], 1));

    // Keys and secrets in an instance: stored with it, selected by it, counted by it.
    assert_eq!(store.count_instance_resources(&b.id).await.unwrap(), (0, 0));
    let (k, v) = key(40, KeyState::Enabled);
    let k = KeyRecord { dkms_instance_id: Some(b.id.clone()), ..k };
    store.insert_key(&k, &v, &[]).await.unwrap();
    let (plain, plain_v) = key(41, KeyState::Enabled);
    store.insert_key(&plain, &plain_v, &[]).await.unwrap();
    assert_eq!(store.get_key(&k.id).await.unwrap().unwrap().dkms_instance_id, Some(b.id.clone()));
    assert_eq!(store.get_key(&plain.id).await.unwrap().unwrap().dkms_instance_id, None);
    let by_instance = KeyFilter { instance_ids: Some(vec![b.id.clone(), "kst-other".into()]), ..Default::default() };
    let listed = store.list_keys(&by_instance, ALL).await.unwrap();
    assert_eq!((listed.items.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), listed.total), (vec![k.id.clone()], 1));
    let secret = crate::SecretRecord {
        name: kms_types::SecretName::parse("in-instance").unwrap(),
        description: String::new(),
        encryption_key_id: k.id.clone(),
        created_at: 40,
        updated_at: 40,
        planned_delete_at: None,
        dkms_instance_id: Some(b.id.clone()),
        revision: 0,
    };
    let first = crate::SecretVersionRecord {
        version_id: kms_types::SecretVersionId::parse("v1").unwrap(),
        created_at: 40,
        data_type: "text".into(),
        sealed: vec![1; 48],
        stages: vec![kms_types::VersionStage::parse("ACSCurrent").unwrap()],
    };
    store.insert_secret(&secret, &first, &[]).await.unwrap();
    let stored = store.get_secret(&secret.name).await.unwrap().unwrap();
    assert_eq!(stored.dkms_instance_id, Some(b.id.clone()));
    // A change keeps the instance.
    let changed = store
        .change_secret(
            &crate::SecretRecord { description: "changed".into(), ..stored.clone() },
            crate::VersionChange { add: None, stages: &[], drop: &[] },
        )
        .await
        .unwrap();
    assert_eq!(store.get_secret(&secret.name).await.unwrap().unwrap().dkms_instance_id, Some(b.id.clone()));
    assert_eq!(store.count_instance_resources(&b.id).await.unwrap(), (1, 1));
    assert_eq!(store.count_instance_resources("kst-other").await.unwrap(), (0, 0));
    // The quota is counted in the insert's own write: a full instance takes nothing more.
    let full = store.update_instance(&InstanceRecord { key_num: 1, secret_num: 1, ..b.clone() }).await.unwrap();
    let (k2, v2) = key(42, KeyState::Enabled);
    let k2 = KeyRecord { dkms_instance_id: Some(b.id.clone()), ..k2 };
    assert!(matches!(store.insert_key(&k2, &v2, &[]).await, Err(StoreError::LimitExceeded)));
    assert_eq!(store.get_key(&k2.id).await.unwrap(), None, "nothing written");
    let s2 = crate::SecretRecord { name: kms_types::SecretName::parse("in-instance-2").unwrap(), ..secret.clone() };
    assert!(matches!(store.insert_secret(&s2, &first, &[]).await, Err(StoreError::LimitExceeded)));
    assert_eq!(store.get_secret(&s2.name).await.unwrap(), None, "nothing written");
    let k3 = KeyRecord { dkms_instance_id: Some("kst-none".into()), ..k2.clone() };
    assert!(matches!(store.insert_key(&k3, &v2, &[]).await, Err(StoreError::NotFound)), "no such instance");
    let k4 = KeyRecord { dkms_instance_id: Some(a.id.clone()), ..k2.clone() };
    assert!(matches!(store.insert_key(&k4, &v2, &[]).await, Err(StoreError::NotFound)), "a released instance");
    store.update_instance(&InstanceRecord { key_num: 2, ..full }).await.unwrap();
    store.insert_key(&k2, &v2, &[]).await.unwrap();
    assert_eq!(store.count_instance_resources(&b.id).await.unwrap(), (2, 1));
    store.destroy_key(&store.get_key(&k2.id).await.unwrap().unwrap()).await.unwrap();
    // Purged and destroyed resources leave the count.
    store.purge_secret(&changed).await.unwrap();
    let k = store.get_key(&k.id).await.unwrap().unwrap();
    store.destroy_key(&k).await.unwrap();
    assert_eq!(store.count_instance_resources(&b.id).await.unwrap(), (0, 0));
    let plain = store.get_key(&plain.id).await.unwrap().unwrap();
    store.destroy_key(&plain).await.unwrap();
}
