//! [`CampaignSettings`]: per-account destinations, do-not-contact list and webhook.

use super::fresh_id;
use crate::campaign::push::DestinationKind;
use crate::campaign::settings::{CampaignSettings, SavedDestination, WebhookSetting};

fn destination(kind: DestinationKind, campaign: &str, sealed: &str) -> SavedDestination {
    SavedDestination {
        kind,
        campaign: campaign.into(),
        sealed_key: sealed.into(),
        key_hint: "…abcd".into(),
        updated_at: crate::backends::sql::now(),
    }
}

/// Destinations replace per kind, lists dedupe, webhooks replace; nothing leaks to
/// another account; deleting something absent is `false`.
pub async fn settings_roundtrip_scoped(store: &dyn CampaignSettings) {
    let (me, other) = (fresh_id("user"), fresh_id("user"));

    let first = destination(DestinationKind::Instantly, "c1", "sealed-1");
    store.put_destination(&me, &first).await.unwrap();
    let second = destination(DestinationKind::Instantly, "c2", "sealed-2");
    store.put_destination(&me, &second).await.unwrap();
    let hub = destination(DestinationKind::Hubspot, "", "sealed-3");
    store.put_destination(&me, &hub).await.unwrap();
    let mine = store.destinations(&me).await.unwrap();
    assert_eq!(
        mine,
        vec![hub.clone(), second],
        "one destination per kind, sorted"
    );
    assert!(
        store.destinations(&other).await.unwrap().is_empty(),
        "scoped to the user"
    );
    assert!(!store
        .delete_destination(&other, DestinationKind::Hubspot)
        .await
        .unwrap());
    assert!(store
        .delete_destination(&me, DestinationKind::Hubspot)
        .await
        .unwrap());
    assert_eq!(store.destinations(&me).await.unwrap().len(), 1);

    let entries = vec!["jane@acme.com".to_string(), "@beta.io".to_string()];
    assert_eq!(store.add_suppressions(&me, &entries).await.unwrap(), 2);
    let again = vec!["@beta.io".to_string(), "bob@gamma.org".to_string()];
    assert_eq!(
        store.add_suppressions(&me, &again).await.unwrap(),
        1,
        "no duplicates"
    );
    assert_eq!(
        store.suppressions(&me).await.unwrap(),
        ["@beta.io", "bob@gamma.org", "jane@acme.com"]
    );
    assert!(store.suppressions(&other).await.unwrap().is_empty());
    assert!(store.delete_suppression(&me, "@beta.io").await.unwrap());
    assert!(!store.delete_suppression(&me, "@beta.io").await.unwrap());
    assert_eq!(store.suppressions(&me).await.unwrap().len(), 2);

    assert!(store.webhook(&me).await.unwrap().is_none());
    let hook = WebhookSetting {
        url: "https://hooks.example/a".into(),
        sealed_secret: "sealed-w".into(),
        updated_at: crate::backends::sql::now(),
    };
    store.put_webhook(&me, &hook).await.unwrap();
    let replaced = WebhookSetting {
        url: "https://hooks.example/b".into(),
        ..hook
    };
    store.put_webhook(&me, &replaced).await.unwrap();
    assert_eq!(store.webhook(&me).await.unwrap(), Some(replaced));
    assert!(store.webhook(&other).await.unwrap().is_none());
    assert!(store.delete_webhook(&me).await.unwrap());
    assert!(!store.delete_webhook(&me).await.unwrap());
}

/// Erasing a user (`UserData::erase_user`) removes their destinations, do-not-contact
/// entries and webhook, and leaves another account's untouched.
pub async fn erase_removes_settings<S>(store: &S)
where
    S: CampaignSettings + crate::ports::UserData + ?Sized,
{
    let (me, other) = (fresh_id("user"), fresh_id("user"));
    let hook = WebhookSetting {
        url: "https://hooks.example/a".into(),
        sealed_secret: "sealed-w".into(),
        updated_at: crate::backends::sql::now(),
    };
    for user in [&me, &other] {
        store
            .put_destination(user, &destination(DestinationKind::Lemlist, "c", "k"))
            .await
            .unwrap();
        store
            .add_suppressions(user, &["@acme.com".to_string()])
            .await
            .unwrap();
        store.put_webhook(user, &hook).await.unwrap();
    }
    store.erase_user(&me).await.unwrap();
    assert!(
        store.destinations(&me).await.unwrap().is_empty(),
        "destinations erased"
    );
    assert!(
        store.suppressions(&me).await.unwrap().is_empty(),
        "list erased"
    );
    assert!(
        store.webhook(&me).await.unwrap().is_none(),
        "webhook erased"
    );
    assert_eq!(store.destinations(&other).await.unwrap().len(), 1);
    assert_eq!(store.suppressions(&other).await.unwrap().len(), 1);
    assert!(store.webhook(&other).await.unwrap().is_some());
}
