//! The storage conformance suite: one set of assertions every engine must pass (Garage's
//! `db/test.rs` idea). Each engine's tests call [`run`] on a fresh, empty store.

use kms_types::{
    AliasName, KeyFilter, KeyId, KeySpec, KeyState, KeyUsage, KeyVersionId, Origin, ProtectionLevel, ResourceType, Tag,
};

use crate::{
    AccessKeyRecord, AliasRecord, InstanceRecord, KeyRecord, Store, StoreError, VersionRecord, VersionUsage, Window,
};

pub(crate) fn key(created_at: i64, state: KeyState) -> (KeyRecord, VersionRecord) {
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
        deletion_protection_description: String::new(),
        delete_at: None,
        rotation_interval: None,
        last_rotation_at: created_at,
        next_rotation_at: None,
        material_expire_at: None,
        material_fingerprint: None,
        dkms_instance_id: None,
        revision: 0,
    };
    let v = VersionRecord {
        id: version,
        key_id: id,
        created_at,
        material: vec![1, 2, 3, created_at as u8],
        usage: VersionUsage::default(),
    };
    (k, v)
}

mod access;
mod data_keys;
mod instances;
mod rewrap;
mod secrets;

const ALL: Window = Window { offset: 0, limit: 100 };

/// Runs every check against an empty store.
pub async fn run(store: &dyn Store) {
    store.ping().await.expect("a fresh store answers a ping");
    let zero: Vec<(KeyState, u64)> = KeyState::ALL.iter().map(|s| (*s, 0)).collect();
    assert_eq!(store.count_keys_by_state().await.unwrap(), zero, "a fresh store has no keys");
    meta(store).await;
    keys(store).await;
    counts_are_real(store, "after keys").await;
    state_changes(store).await;
    counts_are_real(store, "after state_changes").await;
    tags(store).await;
    versions_and_schedules(store).await;
    counts_are_real(store, "after versions_and_schedules").await;
    aliases(store).await;
    access_keys(store).await;
    nonces(store).await;
    secrets::run(store).await;
    imported_material(store).await;
    counts_are_real(store, "after imported_material").await;
    resource_policies(store).await;
    counts_are_real(store, "after resource_policies").await;
    key_counts(store).await;
    instances::run(store).await;
    access::run(store).await;
    data_keys::run(store).await;
    rewrap::run(store).await;
}

/// The kept counts against a real count of the keys table (a listing per state).
async fn counts_are_real(store: &dyn Store, when: &str) -> Vec<(KeyState, u64)> {
    let mut real = Vec::new();
    for s in KeyState::ALL {
        let filter = KeyFilter { states: Some(vec![*s]), ..Default::default() };
        real.push((*s, store.list_keys(&filter, Window { offset: 0, limit: 0 }).await.unwrap().total));
    }
    assert_eq!(store.count_keys_by_state().await.unwrap(), real, "kept counts against a real count, {when}");
    real
}

/// Keys by state through every write that inserts a key, changes its state or removes it —
/// and through the ones that fail half-way, which must leave the counts as they were.
async fn key_counts(store: &dyn Store) {
    use KeyState::*;
    let before = counts_are_real(store, "at the start").await;
    // The expected counts: `before` plus these changes.
    let mut delta: Vec<(KeyState, i64)> = KeyState::ALL.iter().map(|s| (*s, 0)).collect();
    let mut moved = |from: Option<KeyState>, to: Option<KeyState>| {
        for (s, d) in delta.iter_mut() {
            *d += i64::from(Some(*s) == to) - i64::from(Some(*s) == from);
        }
        delta.clone()
    };
    let check = |delta: Vec<(KeyState, i64)>, when: &'static str| {
        let before = before.clone();
        async move {
            let expected: Vec<(KeyState, u64)> =
                before.iter().zip(&delta).map(|((s, n), (_, d))| (*s, (*n as i64 + d) as u64)).collect();
            assert_eq!(counts_are_real(store, when).await, expected, "{when}");
        }
    };

    let (a, va) = key(9000, Enabled);
    let (b, vb) = key(9001, Disabled);
    let (mut c, mut vc) = key(9002, PendingImport);
    c.origin = Origin::External;
    vc.material = Vec::new();
    let (d, vd) = key(9003, PendingDeletion);
    for (k, v) in [(&a, &va), (&b, &vb), (&c, &vc), (&d, &vd)] {
        store.insert_key(k, v, &[]).await.unwrap();
        moved(None, Some(k.state));
    }
    check(moved(None, None), "inserted one key in each state").await;
    assert!(matches!(store.insert_key(&a, &va, &[]).await, Err(StoreError::Conflict)));
    // A new key whose first version id is taken: nothing of it is stored, nor counted.
    let (e, _) = key(9004, Enabled);
    assert!(store.insert_key(&e, &VersionRecord { key_id: e.id.clone(), ..va.clone() }, &[]).await.is_err());
    check(moved(None, None), "inserts that failed").await;

    // State changes, one that changes something else only, and one that loses its race.
    let a = store.update_key(&KeyRecord { state: Disabled, ..a }).await.unwrap();
    check(moved(Some(Enabled), Some(Disabled)), "Enabled → Disabled").await;
    let a = store.update_key(&KeyRecord { description: "only this".into(), ..a }).await.unwrap();
    check(moved(None, None), "no state change").await;
    let stale = KeyRecord { state: Enabled, revision: a.revision - 1, ..a.clone() };
    assert!(matches!(store.update_key(&stale).await, Err(StoreError::Conflict)));
    check(moved(None, None), "a stale change").await;
    let a = store.update_key(&KeyRecord { state: PendingDeletion, delete_at: Some(1), ..a }).await.unwrap();
    check(moved(Some(Disabled), Some(PendingDeletion)), "Disabled → PendingDeletion").await;
    let b = store.update_key(&KeyRecord { state: Enabled, ..b }).await.unwrap();
    check(moved(Some(Disabled), Some(Enabled)), "Disabled → Enabled").await;

    // A rotation that also changes the state, and one whose version id is taken: the state
    // change goes back with the failed version insert.
    let v2 = VersionRecord { id: KeyVersionId::generate(), ..vb.clone() };
    let b = store.add_version(&KeyRecord { state: Disabled, primary_version: v2.id.clone(), ..b }, &v2).await.unwrap();
    check(moved(Some(Enabled), Some(Disabled)), "a new version with a state change").await;
    let taken = VersionRecord { created_at: 9999, ..v2.clone() };
    assert!(store.add_version(&KeyRecord { state: Enabled, ..b.clone() }, &taken).await.is_err());
    check(moved(None, None), "a failed new version").await;

    // Imported material arrives and leaves; a version of another key fails the whole write.
    let c = store
        .set_key_material(&KeyRecord { state: Enabled, material_fingerprint: Some("f".into()), ..c }, &vc.id, &[7])
        .await
        .unwrap();
    check(moved(Some(PendingImport), Some(Enabled)), "material imported").await;
    let wrong = store.set_key_material(&KeyRecord { state: PendingImport, ..c.clone() }, &vb.id, &[]).await;
    assert!(matches!(wrong, Err(StoreError::NotFound)));
    check(moved(None, None), "material of another key's version").await;
    let c = store.set_key_material(&KeyRecord { state: PendingImport, ..c }, &vc.id, &[]).await.unwrap();
    check(moved(Some(Enabled), Some(PendingImport)), "material removed").await;

    // Destruction: a stale record and a missing key change nothing.
    let stale = KeyRecord { revision: a.revision - 1, ..a.clone() };
    assert!(matches!(store.destroy_key(&stale).await, Err(StoreError::Conflict)));
    check(moved(None, None), "a stale destruction").await;
    store.destroy_key(&a).await.unwrap();
    check(moved(Some(PendingDeletion), None), "destroyed").await;
    assert!(matches!(store.destroy_key(&a).await, Err(StoreError::NotFound)));
    store.destroy_key(&d).await.unwrap();
    check(moved(Some(PendingDeletion), None), "one more destroyed").await;
    store.destroy_key(&c).await.unwrap();
    store.destroy_key(&b).await.unwrap();
    moved(Some(PendingImport), None);
    check(moved(Some(Disabled), None), "every key of this section destroyed").await;
    assert_eq!(counts_are_real(store, "at the end").await, before);
}

async fn nonces(store: &dyn Store) {
    assert!(store.record_nonce("ak", "n1", 100, 200).await.unwrap());
    assert!(!store.record_nonce("ak", "n1", 150, 250).await.unwrap(), "a replay inside the window");
    assert!(store.record_nonce("other", "n1", 150, 250).await.unwrap(), "nonces are per access key");
    assert!(store.record_nonce("ak", "n1", 200, 300).await.unwrap(), "forgotten once a replay is stale");
    assert!(!store.record_nonce("ak", "n1", 250, 350).await.unwrap());
    assert_eq!(store.purge_nonces(260).await.unwrap(), 1, "only the forgotten one goes");
    assert!(!store.record_nonce("ak", "n1", 260, 360).await.unwrap());
}

async fn meta(store: &dyn Store) {
    assert_eq!(store.get_meta("account_id").await.unwrap(), None);
    assert_eq!(store.init_meta("account_id", "1").await.unwrap(), "1");
    // The first writer wins; later initialisations see its value.
    assert_eq!(store.init_meta("account_id", "2").await.unwrap(), "1");
    assert_eq!(store.get_meta("account_id").await.unwrap().as_deref(), Some("1"));
    store.ping().await.expect("a store with data answers a ping");
}

async fn keys(store: &dyn Store) {
    let (k1, v1) = key(100, KeyState::Enabled);
    let (k2, v2) = key(200, KeyState::Disabled);
    let (k3, v3) = key(300, KeyState::Enabled);
    for (k, v) in [(&k1, &v1), (&k2, &v2), (&k3, &v3)] {
        store.insert_key(k, v, &[]).await.unwrap();
    }
    assert_eq!(store.get_key(&k2.id).await.unwrap().as_ref(), Some(&k2));
    assert_eq!(store.get_version(&v3.id).await.unwrap().as_ref(), Some(&v3));
    assert_eq!(store.get_key(&KeyId::generate()).await.unwrap(), None);
    assert_eq!(store.get_version(&KeyVersionId::generate()).await.unwrap(), None);
    assert!(matches!(store.insert_key(&k1, &v1, &[]).await, Err(StoreError::Conflict)));

    let all = store.list_keys(&KeyFilter::default(), ALL).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items, vec![k1.clone(), k2.clone(), k3.clone()], "oldest first");
    let page2 = store.list_keys(&KeyFilter::default(), Window { offset: 1, limit: 1 }).await.unwrap();
    assert_eq!((page2.total, page2.items), (3, vec![k2.clone()]));
    let enabled = KeyFilter { states: Some(vec![KeyState::Enabled]), ..Default::default() };
    let got = store.list_keys(&enabled, ALL).await.unwrap();
    assert_eq!((got.total, got.items), (2, vec![k1.clone(), k3.clone()]));
    let either = KeyFilter { states: Some(vec![KeyState::Enabled, KeyState::Disabled]), ..Default::default() };
    assert_eq!(store.list_keys(&either, ALL).await.unwrap().total, 3);
    let none = KeyFilter { usages: Some(vec![KeyUsage::SignVerify]), ..Default::default() };
    let no_ids = KeyFilter { key_ids: Some(vec![]), ..Default::default() };
    assert_eq!(store.list_keys(&no_ids, ALL).await.unwrap().total, 0);
    let by_id = KeyFilter {
        key_ids: Some(vec![k3.id.to_string(), k1.id.to_string(), "absent".into()]),
        states: Some(vec![KeyState::Enabled]),
        ..Default::default()
    };
    let got = store.list_keys(&by_id, ALL).await.unwrap();
    assert_eq!((got.total, got.items), (2, vec![k1.clone(), k3.clone()]));
    assert_eq!(store.list_keys(&none, ALL).await.unwrap().total, 0);
}

async fn aliases(store: &dyn Store) {
    let (k1, v1) = key(400, KeyState::Enabled);
    let (k2, v2) = key(500, KeyState::Enabled);
    store.insert_key(&k1, &v1, &[]).await.unwrap();
    store.insert_key(&k2, &v2, &[]).await.unwrap();
    let name = |s: &str| AliasName::parse(s).unwrap();
    let a = AliasRecord { name: name("alias/b"), key_id: k1.id.clone(), created_at: 1 };
    store.insert_alias(&a).await.unwrap();
    let clash = AliasRecord { key_id: k2.id.clone(), ..a.clone() };
    assert!(matches!(store.insert_alias(&clash).await, Err(StoreError::Conflict)));
    store.insert_alias(&AliasRecord { name: name("alias/a"), key_id: k1.id.clone(), created_at: 2 }).await.unwrap();
    store.insert_alias(&AliasRecord { name: name("alias/c"), key_id: k2.id.clone(), created_at: 3 }).await.unwrap();

    let listed = store.list_aliases(None, ALL).await.unwrap();
    let names: Vec<&str> = listed.items.iter().map(|a| a.name.as_str()).collect();
    assert_eq!((listed.total, names), (3, vec!["alias/a", "alias/b", "alias/c"]));
    let of_k1 = store.list_aliases(Some(&k1.id), Window { offset: 1, limit: 10 }).await.unwrap();
    assert_eq!(of_k1.total, 2);
    assert_eq!(of_k1.items.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), vec!["alias/b"]);

    store.update_alias(&name("alias/b"), &k2.id).await.unwrap();
    assert_eq!(store.get_alias(&name("alias/b")).await.unwrap().unwrap().key_id, k2.id);
    assert!(matches!(store.update_alias(&name("alias/zz"), &k2.id).await, Err(StoreError::NotFound)));
    store.delete_alias(&name("alias/b")).await.unwrap();
    assert_eq!(store.get_alias(&name("alias/b")).await.unwrap(), None);
    assert!(matches!(store.delete_alias(&name("alias/b")).await, Err(StoreError::NotFound)));
}

async fn access_keys(store: &dyn Store) {
    let ak = AccessKeyRecord {
        id: "LTAI-test".into(),
        wrapped_secret: vec![9; 40],
        enabled: true,
        created_at: 5,
        principal: "app1".into(),
        policy: Some(r#"{"Version":"1","Statement":[]}"#.into()),
    };
    store.insert_access_key(&ak).await.unwrap();
    assert!(matches!(store.insert_access_key(&ak).await, Err(StoreError::Conflict)));
    assert_eq!(store.list_access_keys().await.unwrap(), vec![ak.clone()]);
    store.set_access_key_enabled(&ak.id, false).await.unwrap();
    assert_eq!(store.list_access_keys().await.unwrap(), vec![AccessKeyRecord { enabled: false, ..ak.clone() }]);
    store.set_access_key_enabled(&ak.id, true).await.unwrap();
    assert!(store.list_access_keys().await.unwrap()[0].enabled);
    assert!(matches!(store.set_access_key_enabled("LTAI-none", false).await, Err(StoreError::NotFound)));
    let other = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    store.set_access_key_policy(&ak.id, Some(other)).await.unwrap();
    assert_eq!(store.list_access_keys().await.unwrap()[0].policy.as_deref(), Some(other));
    store.set_access_key_policy(&ak.id, None).await.unwrap();
    assert_eq!(store.list_access_keys().await.unwrap()[0].policy, None);
    store.set_access_key_policy(&ak.id, ak.policy.as_deref()).await.unwrap();
    assert_eq!(store.list_access_keys().await.unwrap(), vec![ak.clone()]);
    assert!(matches!(store.set_access_key_policy("LTAI-none", None).await, Err(StoreError::NotFound)));
    store.delete_access_key(&ak.id).await.unwrap();
    assert!(matches!(store.delete_access_key(&ak.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_access_keys().await.unwrap(), vec![]);
    // Its id can be used again.
    store.insert_access_key(&ak).await.unwrap();
    let unrestricted =
        AccessKeyRecord { id: "LTAI-admin".into(), principal: String::new(), policy: None, ..ak.clone() };
    store.insert_access_key(&unrestricted).await.unwrap();
    assert_eq!(store.list_access_keys().await.unwrap(), vec![unrestricted, ak]);
}

async fn state_changes(store: &dyn Store) {
    let (k, v) = key(600, KeyState::Enabled);
    store.insert_key(&k, &v, &[]).await.unwrap();
    let disabled = KeyRecord { state: KeyState::Disabled, ..k.clone() };
    let stored = store.update_key(&disabled).await.unwrap();
    assert_eq!(stored.revision, k.revision + 1);
    assert_eq!(store.get_key(&k.id).await.unwrap().unwrap(), stored);
    // A change computed from the old revision loses: no lost update.
    let stale = KeyRecord { description: "stale".into(), ..k.clone() };
    assert!(matches!(store.update_key(&stale).await, Err(StoreError::Conflict)));
    assert_eq!(store.get_key(&k.id).await.unwrap().unwrap().state, KeyState::Disabled);
    let (ghost, _) = key(601, KeyState::Enabled);
    assert!(matches!(store.update_key(&ghost).await, Err(StoreError::NotFound)));
}

async fn versions_and_schedules(store: &dyn Store) {
    let (mut k, v1) = key(700, KeyState::Enabled);
    k.rotation_interval = Some(100);
    k.next_rotation_at = Some(800);
    store.insert_key(&k, &v1, &[]).await.unwrap();
    assert!(store.keys_due_for_rotation(799, 10).await.unwrap().iter().all(|d| d.id != k.id));
    assert!(store.keys_due_for_rotation(800, 10).await.unwrap().iter().any(|d| d.id == k.id));

    let v2 = VersionRecord {
        id: KeyVersionId::generate(),
        key_id: k.id.clone(),
        created_at: 800,
        material: vec![8; 40],
        usage: VersionUsage::default(),
    };
    let rotated =
        KeyRecord { primary_version: v2.id.clone(), last_rotation_at: 800, next_rotation_at: Some(900), ..k.clone() };
    let stored = store.add_version(&rotated, &v2).await.unwrap();
    // The same rotation attempted again from the old revision fails and adds nothing.
    let v3 = VersionRecord {
        id: KeyVersionId::generate(),
        key_id: k.id.clone(),
        created_at: 800,
        material: vec![9; 40],
        usage: VersionUsage::default(),
    };
    let twin = KeyRecord { primary_version: v3.id.clone(), ..rotated.clone() };
    assert!(matches!(store.add_version(&twin, &v3).await, Err(StoreError::Conflict)));
    assert_eq!(store.get_version(&v3.id).await.unwrap(), None);
    let versions = store.list_versions(&k.id, ALL).await.unwrap();
    assert_eq!(versions.total, 2);
    assert_eq!(versions.items, vec![v2.clone(), v1.clone()], "newest first");

    // Usage adds up across flushes; the latest use wins; unknown versions are skipped.
    let used = |e, d, at| VersionUsage { encrypts: e, decrypts: d, last_used_at: Some(at) };
    store
        .add_version_usage(&[(v1.id.clone(), used(3, 1, 850)), (KeyVersionId::generate(), used(1, 1, 1))])
        .await
        .unwrap();
    store.add_version_usage(&[(v1.id.clone(), used(2, 5, 840))]).await.unwrap();
    assert_eq!(store.get_version(&v1.id).await.unwrap().unwrap().usage, used(5, 6, 850));
    assert_eq!(store.get_version(&v2.id).await.unwrap().unwrap().usage, VersionUsage::default());

    let pending = KeyRecord { state: KeyState::PendingDeletion, delete_at: Some(1000), ..stored.clone() };
    let pending = store.update_key(&pending).await.unwrap();
    let alias = AliasRecord { name: AliasName::parse("alias/doomed").unwrap(), key_id: k.id.clone(), created_at: 1 };
    store.insert_alias(&alias).await.unwrap();
    assert!(store.keys_due_for_deletion(999, 10).await.unwrap().iter().all(|d| d.id != k.id));
    let due = store.keys_due_for_deletion(1000, 10).await.unwrap();
    assert_eq!(due.iter().filter(|d| d.id == k.id).count(), 1);
    assert!(matches!(store.destroy_key(&stored).await, Err(StoreError::Conflict)), "stale revision");
    store.destroy_key(&pending).await.unwrap();
    assert_eq!(store.get_key(&k.id).await.unwrap(), None);
    assert_eq!(store.get_version(&v1.id).await.unwrap(), None);
    assert_eq!(store.get_version(&v2.id).await.unwrap(), None);
    assert_eq!(store.get_alias(&alias.name).await.unwrap(), None);
    assert!(matches!(store.destroy_key(&pending).await, Err(StoreError::NotFound)));
}

async fn tags(store: &dyn Store) {
    let t = |k: &str, v: &str| Tag::new(k, v).unwrap();
    let (k1, v1) = key(900, KeyState::Enabled);
    let (k2, v2) = key(901, KeyState::Enabled);
    store.insert_key(&k1, &v1, &[t("team", "pay"), t("env", "prod")]).await.unwrap();
    store.insert_key(&k2, &v2, &[]).await.unwrap();
    let (id1, id2) = (k1.id.to_string(), k2.id.to_string());
    assert_eq!(store.list_tags(ResourceType::Key, &id1).await.unwrap(), vec![t("env", "prod"), t("team", "pay")]);
    // Overwrite one, add one.
    store.put_tags(ResourceType::Key, &id1, &[t("team", "ops"), t("tier", "1")], 20).await.unwrap();
    assert_eq!(
        store.list_tags(ResourceType::Key, &id1).await.unwrap(),
        vec![t("env", "prod"), t("team", "ops"), t("tier", "1")]
    );
    // The limit is checked atomically: nothing of a refused write stays.
    assert!(matches!(
        store.put_tags(ResourceType::Key, &id1, &[t("a", ""), t("b", "")], 4).await,
        Err(StoreError::LimitExceeded)
    ));
    assert_eq!(store.list_tags(ResourceType::Key, &id1).await.unwrap().len(), 3);
    // Secrets' tags are apart from keys' even for the same id.
    assert!(store.list_tags(ResourceType::Secret, &id1).await.unwrap().is_empty());

    store.put_tags(ResourceType::Key, &id2, &[t("team", "ops")], 20).await.unwrap();
    let by_tag = KeyFilter { tag_keys: Some(vec!["tier".into()]), ..Default::default() };
    let got = store.list_keys(&by_tag, ALL).await.unwrap();
    assert_eq!(got.items.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), vec![k1.id.clone()]);
    let by_value = KeyFilter { tag_values: Some(vec!["ops".into()]), ..Default::default() };
    assert_eq!(store.list_keys(&by_value, ALL).await.unwrap().total, 2);

    let ids = vec![id1.clone(), id2.clone()];
    let rows = store.list_tag_rows(ResourceType::Key, Some(&ids), &[], None, 100).await.unwrap();
    assert_eq!(rows.len(), 4);
    let mut sorted = rows.clone();
    sorted.sort_by(|a, b| (&a.0, &a.1.key).cmp(&(&b.0, &b.1.key)));
    assert_eq!(rows, sorted, "ordered by resource then tag key");
    let first_two = store.list_tag_rows(ResourceType::Key, Some(&ids), &[], None, 2).await.unwrap();
    let cursor = (first_two[1].0.clone(), first_two[1].1.key.clone());
    let rest = store.list_tag_rows(ResourceType::Key, Some(&ids), &[], Some(&cursor), 100).await.unwrap();
    assert_eq!([first_two, rest].concat(), rows, "the cursor continues where the page ended");
    let ops =
        store.list_tag_rows(ResourceType::Key, None, &[("team".into(), Some("ops".into()))], None, 100).await.unwrap();
    assert_eq!(ops.len(), 2);

    store.remove_tags(ResourceType::Key, &id1, Some(&["team".into(), "unknown".into()])).await.unwrap();
    assert_eq!(store.list_tags(ResourceType::Key, &id1).await.unwrap(), vec![t("env", "prod"), t("tier", "1")]);
    store.remove_tags(ResourceType::Key, &id1, None).await.unwrap();
    assert!(store.list_tags(ResourceType::Key, &id1).await.unwrap().is_empty());
}

/// `EXTERNAL` keys: material arrives and leaves with the key's state in one write, and keys
/// are found when their material expires.
async fn imported_material(store: &dyn Store) {
    let (mut k, mut v) = key(7000, KeyState::PendingImport);
    k.origin = Origin::External;
    v.material = Vec::new();
    store.insert_key(&k, &v, &[]).await.unwrap();
    assert!(store.get_version(&v.id).await.unwrap().unwrap().material.is_empty());

    let imported = KeyRecord {
        state: KeyState::Enabled,
        material_expire_at: Some(9000),
        material_fingerprint: Some("ab12".into()),
        dkms_instance_id: None,
        ..k.clone()
    };
    let stored = store.set_key_material(&imported, &v.id, &[9, 9, 9]).await.unwrap();
    assert_eq!(stored.revision, k.revision + 1);
    let read = store.get_key(&k.id).await.unwrap().unwrap();
    assert_eq!(read, stored);
    assert_eq!((read.material_expire_at, read.material_fingerprint.as_deref()), (Some(9000), Some("ab12")));
    assert_eq!(store.get_version(&v.id).await.unwrap().unwrap().material, vec![9, 9, 9]);
    // Compare-and-set like every key change: the stale record loses and changes nothing.
    assert!(matches!(store.set_key_material(&imported, &v.id, &[]).await, Err(StoreError::Conflict)));
    assert_eq!(store.get_version(&v.id).await.unwrap().unwrap().material, vec![9, 9, 9]);

    let due = |now| async move { store.keys_with_expired_material(now, 10).await.unwrap() };
    assert!(due(8999).await.iter().all(|d| d.id != k.id));
    assert!(due(9000).await.iter().any(|d| d.id == k.id));

    let removed = KeyRecord { state: KeyState::PendingImport, material_expire_at: None, ..stored.clone() };
    let stored = store.set_key_material(&removed, &v.id, &[]).await.unwrap();
    assert!(store.get_version(&v.id).await.unwrap().unwrap().material.is_empty());
    assert_eq!(store.get_key(&k.id).await.unwrap().unwrap().material_fingerprint.as_deref(), Some("ab12"));
    assert!(due(i64::MAX).await.iter().all(|d| d.id != k.id));
    // A version of another key is not this key's to change.
    let (other, other_v) = key(7001, KeyState::Enabled);
    store.insert_key(&other, &other_v, &[]).await.unwrap();
    assert!(matches!(store.set_key_material(&stored, &other_v.id, &[1]).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_version(&other_v.id).await.unwrap().unwrap().material, other_v.material);
}

/// Key and secret policies: set, replaced, read back, counted, and gone with their key.
async fn resource_policies(store: &dyn Store) {
    let (k, v) = key(8000, KeyState::PendingDeletion);
    store.insert_key(&k, &v, &[]).await.unwrap();
    let before = store.count_resource_policies().await.unwrap();
    assert_eq!(store.get_resource_policy(ResourceType::Key, k.id.as_str()).await.unwrap(), None);
    store.put_resource_policy(ResourceType::Key, k.id.as_str(), "{\"a\":1}").await.unwrap();
    store.put_resource_policy(ResourceType::Key, k.id.as_str(), "{\"b\":2}").await.unwrap();
    store.put_resource_policy(ResourceType::Secret, k.id.as_str(), "{\"s\":3}").await.unwrap();
    assert_eq!(
        store.get_resource_policy(ResourceType::Key, k.id.as_str()).await.unwrap().as_deref(),
        Some("{\"b\":2}")
    );
    assert_eq!(store.count_resource_policies().await.unwrap(), before + 2);
    store.destroy_key(&k).await.unwrap();
    assert_eq!(store.get_resource_policy(ResourceType::Key, k.id.as_str()).await.unwrap(), None);
    assert_eq!(
        store.get_resource_policy(ResourceType::Secret, k.id.as_str()).await.unwrap().as_deref(),
        Some("{\"s\":3}")
    );
}
