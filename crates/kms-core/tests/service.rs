//! The key service over a real SQLite file and the software provider.

use std::sync::Arc;

use kms_core::{CoreError, Kms, NewKey, SystemClock};
use kms_crypto::soft::{SoftRootKey, provider};
use kms_store::sqlite::SqliteStore;
use kms_types::{AliasName, EncryptionContext, KeyRef, KeySpec, Origin, ProtectionLevel, RegionId};

fn new_key() -> NewKey {
    NewKey {
        description: String::new(),
        spec: KeySpec::Aes256,
        usage: None,
        origin: Origin::AliyunKms,
        protection_level: ProtectionLevel::Software,
        automatic_rotation: false,
        rotation_interval: None,
        dkms_instance_id: None,
        tags: Vec::new(),
        policy: None,
    }
}

async fn open(dir: &std::path::Path, root: [u8; 32], region: &str) -> Result<Kms, CoreError> {
    let store = Arc::new(SqliteStore::open(&dir.join("kms.db")).unwrap());
    Kms::open(store, provider(SoftRootKey::from_bytes(&root)), Arc::new(SystemClock), RegionId::parse(region).unwrap())
        .await
}

fn ctx(json: &str) -> EncryptionContext {
    EncryptionContext::from_json(json).unwrap()
}

#[tokio::test]
async fn encrypt_by_alias_and_decrypt_without_key_id() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path(), [1; 32], "cn-hangzhou").await.unwrap();
    let key = kms.create_key(new_key()).await.unwrap();
    let alias = AliasName::parse("alias/app").unwrap();
    kms.create_alias(&alias, &KeyRef::parse(key.id.as_str()).unwrap()).await.unwrap();
    let by_alias = KeyRef::parse("alias/app").unwrap();
    let enc = kms.encrypt(&by_alias, &ctx(r#"{"a":"1","b":"2"}"#), b"secret").await.unwrap();
    assert_eq!(enc.key_id, key.id);
    assert_eq!(enc.version_id, key.primary_version);
    let dec = kms.decrypt(&enc.blob, &ctx(r#"{ "b" : "2", "a" : "1" }"#)).await.unwrap();
    assert_eq!(&*dec.plaintext, b"secret");
    assert!(matches!(kms.decrypt(&enc.blob, &ctx(r#"{"a":"1"}"#)).await, Err(CoreError::InvalidCiphertext)));
    let arn = KeyRef::parse(&kms.key_arn(&key.id)).unwrap();
    assert_eq!(kms.describe_key(&arn).await.unwrap().id, key.id);
}

#[tokio::test]
async fn foreign_arns_and_blobs_are_not_found() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let old = open(a.path(), [1; 32], "cn-hangzhou").await.unwrap();
    let new = open(b.path(), [1; 32], "cn-shanghai").await.unwrap();
    let key = old.create_key(new_key()).await.unwrap();
    let blob =
        old.encrypt(&KeyRef::parse(key.id.as_str()).unwrap(), &EncryptionContext::default(), b"x").await.unwrap().blob;
    assert!(matches!(new.decrypt(&blob, &EncryptionContext::default()).await, Err(CoreError::KeyNotFound)));
    let other_region = KeyRef::parse(&old.key_arn(&key.id).replace("cn-hangzhou", "cn-beijing")).unwrap();
    assert!(matches!(old.describe_key(&other_region).await, Err(CoreError::KeyNotFound)));
}

#[tokio::test]
async fn the_account_persists_and_a_wrong_root_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path(), [1; 32], "cn-hangzhou").await.unwrap();
    let account = first.account().clone();
    drop(first);
    let again = open(dir.path(), [1; 32], "cn-hangzhou").await.unwrap();
    assert_eq!(again.account(), &account);
    assert_eq!(account.as_str().len(), 16);
    drop(again);
    assert!(matches!(open(dir.path(), [2; 32], "cn-hangzhou").await, Err(CoreError::RootKeyMismatch)));
}

#[tokio::test]
async fn unserved_specs_and_duplicate_aliases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path(), [1; 32], "cn-hangzhou").await.unwrap();
    let aes128 = NewKey { spec: KeySpec::Aes128, ..new_key() };
    assert_eq!(kms.create_key(aes128).await.unwrap().spec, KeySpec::Aes128);
    let mac_for_encryption =
        NewKey { spec: KeySpec::HmacSha256, usage: Some(kms_types::KeyUsage::EncryptDecrypt), ..new_key() };
    assert!(matches!(kms.create_key(mac_for_encryption).await, Err(CoreError::InvalidParameter("KeyUsage"))));
    let des = NewKey { spec: KeySpec::Des3, ..new_key() };
    assert!(matches!(kms.create_key(des).await, Err(CoreError::Unsupported(_))));
    let key = kms.create_key(new_key()).await.unwrap();
    let r = KeyRef::parse(key.id.as_str()).unwrap();
    let alias = AliasName::parse("alias/x").unwrap();
    kms.create_alias(&alias, &r).await.unwrap();
    assert!(matches!(kms.create_alias(&alias, &r).await, Err(CoreError::AliasExists)));
    let data_key = kms.generate_data_key(&r, &EncryptionContext::default(), 16).await.unwrap();
    assert_eq!(data_key.plaintext.len(), 16);
    let back = kms.decrypt(&data_key.wrapped.blob, &EncryptionContext::default()).await.unwrap();
    assert_eq!(back.plaintext, data_key.plaintext);
}
