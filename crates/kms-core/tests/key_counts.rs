//! Keys by state, as the metrics read them, through every path of the key service that
//! creates a key, changes its state or destroys it.

use std::sync::Arc;

use kms_core::{Clock, DevClock, Kms, NewKey};
use kms_crypto::soft::{SoftRootKey, provider};
use kms_store::Window;
use kms_store::sqlite::SqliteStore;
use kms_types::{
    AsymmetricAlgorithm, ImportWrappingAlgorithm, KeyFilter, KeyRef, KeySpec, KeyState, Origin, ProtectionLevel,
    RegionId,
};

fn new_key(origin: Origin) -> NewKey {
    NewKey {
        description: String::new(),
        spec: KeySpec::Aes256,
        usage: None,
        origin,
        protection_level: ProtectionLevel::Software,
        automatic_rotation: false,
        rotation_interval: None,
        dkms_instance_id: None,
        tags: Vec::new(),
        policy: None,
    }
}

/// The kept counts, checked against a count of the keys the service lists in each state.
async fn counts(kms: &Kms) -> [u64; 4] {
    let kept = kms.keys_by_state().await.unwrap();
    let mut real = Vec::new();
    for s in KeyState::ALL {
        let filter = KeyFilter { states: Some(vec![*s]), ..Default::default() };
        real.push((*s, kms.list_keys(&filter, Window { offset: 0, limit: 0 }).await.unwrap().total));
    }
    assert_eq!(kept, real, "kept counts against a real count");
    assert_eq!(
        KeyState::ALL,
        [KeyState::Enabled, KeyState::Disabled, KeyState::PendingDeletion, KeyState::PendingImport]
    );
    [kept[0].1, kept[1].1, kept[2].1, kept[3].1]
}

/// Imports 32 bytes of material into an `EXTERNAL` key, expiring at `expire` (0: never).
async fn import(kms: &Kms, key: &KeyRef, expire: i64) {
    let params =
        kms.get_parameters_for_import(key, KeySpec::Rsa2048, ImportWrappingAlgorithm::RsaesOaepSha256).await.unwrap();
    let wrapped = kms_crypto::public::encrypt(
        &params.public_key,
        KeySpec::Rsa2048,
        AsymmetricAlgorithm::RsaesOaepSha256,
        &[7; 32],
    )
    .unwrap();
    kms.import_key_material(key, &params.token, wrapped, expire).await.unwrap();
}

/// [Enabled, Disabled, PendingDeletion, PendingImport] after each step of a mixed sequence:
/// CreateKey (both origins), Disable/EnableKey, Schedule/CancelKeyDeletion (back to Enabled,
/// or to PendingImport without material), ImportKeyMaterial, DeleteKeyMaterial, a rotation,
/// and the scheduled jobs destroying a key and taking expired material away.
#[tokio::test]
async fn counts_follow_every_change_the_service_makes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(DevClock::default());
    let store = Arc::new(SqliteStore::open(&dir.path().join("kms.db")).unwrap());
    let kms = Kms::open(
        store,
        provider(SoftRootKey::from_bytes(&[3; 32])),
        clock.clone(),
        RegionId::parse("cn-hangzhou").unwrap(),
    )
    .await
    .unwrap();
    let r = |k: &kms_store::KeyRecord| KeyRef::parse(k.id.as_str()).unwrap();
    assert_eq!(counts(&kms).await, [0, 0, 0, 0]);

    let a = r(&kms.create_key(new_key(Origin::AliyunKms)).await.unwrap());
    let b = r(&kms.create_key(new_key(Origin::AliyunKms)).await.unwrap());
    let c = r(&kms.create_key(new_key(Origin::AliyunKms)).await.unwrap());
    let x = r(&kms.create_key(new_key(Origin::External)).await.unwrap());
    let y = r(&kms.create_key(new_key(Origin::External)).await.unwrap());
    assert_eq!(counts(&kms).await, [3, 0, 0, 2]);

    kms.disable_key(&a).await.unwrap();
    kms.disable_key(&a).await.unwrap();
    kms.disable_key(&b).await.unwrap();
    kms.enable_key(&b).await.unwrap();
    assert_eq!(counts(&kms).await, [2, 1, 0, 2]);
    kms.create_key_version(&b).await.unwrap();
    kms.update_key_description(&b, "rotated once").await.unwrap();
    assert_eq!(counts(&kms).await, [2, 1, 0, 2]);

    kms.schedule_key_deletion(&c, 7).await.unwrap();
    kms.cancel_key_deletion(&c).await.unwrap();
    kms.schedule_key_deletion(&c, 7).await.unwrap();
    assert_eq!(counts(&kms).await, [1, 1, 1, 2]);

    let now = clock.now().unix_timestamp();
    import(&kms, &x, now + 86_400).await;
    import(&kms, &y, 0).await;
    assert_eq!(counts(&kms).await, [3, 1, 1, 0]);
    kms.delete_key_material(&y).await.unwrap();
    assert_eq!(counts(&kms).await, [2, 1, 1, 1]);
    // Without material a cancelled deletion goes back to PendingImport.
    kms.schedule_key_deletion(&y, 30).await.unwrap();
    assert_eq!(counts(&kms).await, [2, 1, 2, 0]);
    kms.cancel_key_deletion(&y).await.unwrap();
    assert_eq!(counts(&kms).await, [2, 1, 1, 1]);

    // Eight days on: c is destroyed, x's material has expired.
    clock.advance(8 * 86_400);
    let report = kms.run_due_jobs().await.unwrap();
    assert_eq!((report.destroyed, report.expired_materials), (1, 1));
    assert_eq!(counts(&kms).await, [1, 1, 0, 2]);
    import(&kms, &x, 0).await;
    kms.enable_key(&a).await.unwrap();
    assert_eq!(counts(&kms).await, [3, 0, 0, 1]);
}
