//! Managed data keys: versions in the order they were added, unique per name.

use crate::{DataKeyVersionRecord, Store, StoreError, Window};

fn version(name: &str, id: &str, created_at: i64) -> DataKeyVersionRecord {
    DataKeyVersionRecord {
        name: name.into(),
        version_id: id.into(),
        material: format!("wrapped {name} {id}").into_bytes(),
        created_at,
    }
}

pub(super) async fn run(store: &dyn Store) {
    let all = Window { offset: 0, limit: 100 };
    assert_eq!(store.list_data_key_versions("dk", all).await.unwrap().total, 0);
    // Added in an order their ids and times do not follow: the listing keeps the added order.
    for (id, at) in [("zzzz0001", 30), ("aaaa0002", 10), ("mmmm0003", 20)] {
        store.insert_data_key_version(&version("dk", id, at)).await.unwrap();
    }
    let again = store.insert_data_key_version(&version("dk", "aaaa0002", 99)).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "a version id is unique within its name");
    // The same version id under another name is another version.
    store.insert_data_key_version(&version("other", "aaaa0002", 5)).await.unwrap();

    let listed = store.list_data_key_versions("dk", all).await.unwrap();
    assert_eq!(listed.total, 3);
    let ids: Vec<&str> = listed.items.iter().map(|v| v.version_id.as_str()).collect();
    assert_eq!(ids, ["zzzz0001", "aaaa0002", "mmmm0003"]);
    assert_eq!(listed.items[1], version("dk", "aaaa0002", 10));
    let last = store.list_data_key_versions("dk", Window { offset: 2, limit: 1 }).await.unwrap();
    assert_eq!((last.total, last.items.len(), last.items[0].version_id.as_str()), (3, 1, "mmmm0003"));
    assert_eq!(store.get_data_key_version("dk", "mmmm0003").await.unwrap(), Some(version("dk", "mmmm0003", 20)));
    assert_eq!(store.get_data_key_version("other", "mmmm0003").await.unwrap(), None);
    assert_eq!(store.get_data_key_version("other", "aaaa0002").await.unwrap(), Some(version("other", "aaaa0002", 5)));
    assert_eq!(store.list_data_key_versions("none", all).await.unwrap().total, 0);
}
