//! The `LocalAccounts` suite: the rules of its `# Contract`, including concurrent
//! sign-ups with one email.

use std::sync::Arc;

use super::fresh_id;
use crate::error::Error;
use crate::ports::{LocalAccounts, NewLocalUser};

/// Runs every local-accounts check.
pub async fn run_all(accounts: Arc<dyn LocalAccounts>) {
    create_and_find_by_any_spelling(&*accounts).await;
    duplicate_email_is_already_exists(&*accounts).await;
    concurrent_signups_create_one_user(accounts.clone()).await;
    token_versions_and_passwords(accounts.clone()).await;
    email_verification_happens_once(accounts).await;
}

fn new_user(email: &str) -> NewLocalUser {
    NewLocalUser {
        user_id: fresh_id("local"),
        email: email.to_owned(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$fake${}", fresh_id("hash")),
    }
}

fn fresh_email() -> String {
    format!("{}@Example.test", fresh_id("Signup"))
}

/// The email is stored normalised and found by any spelling; the rest round-trips.
pub async fn create_and_find_by_any_spelling(accounts: &dyn LocalAccounts) {
    let email = fresh_email();
    let new = new_user(&format!("  {email} "));
    let created = accounts.create_user(new.clone()).await.unwrap();
    assert_eq!(created.user_id, new.user_id);
    assert_eq!(
        created.email,
        email.to_lowercase(),
        "stored trimmed and lower-cased"
    );
    assert_eq!(created.password_hash, new.password_hash);
    assert_eq!(created.token_version, 0, "a new user starts at version 0");
    assert_eq!(
        created.email_verified_at, None,
        "a new user is not verified"
    );
    assert_eq!(
        accounts.user_by_id(&new.user_id).await.unwrap().as_ref(),
        Some(&created),
        "found by id"
    );
    assert_eq!(
        accounts.user_by_id(&fresh_id("nobody")).await.unwrap(),
        None
    );
    for spelling in [email.clone(), email.to_uppercase(), format!(" {email}")] {
        let found = accounts.user_by_email(&spelling).await.unwrap();
        assert_eq!(found.as_ref(), Some(&created), "lookup by `{spelling}`");
    }
    assert_eq!(
        accounts.user_by_email(&fresh_email()).await.unwrap(),
        None,
        "an unknown email is Ok(None)"
    );
    assert_eq!(accounts.user_by_email("  ").await.unwrap(), None);
}

/// A second sign-up with the same email (another case) or the same id stores nothing.
pub async fn duplicate_email_is_already_exists(accounts: &dyn LocalAccounts) {
    let email = fresh_email();
    let first = accounts.create_user(new_user(&email)).await.unwrap();
    let again = accounts.create_user(new_user(&email.to_uppercase())).await;
    assert!(
        matches!(again, Err(Error::AlreadyExists(_))),
        "same email, other case: {again:?}"
    );
    let same_id = NewLocalUser {
        user_id: first.user_id.clone(),
        ..new_user(&fresh_email())
    };
    let again = accounts.create_user(same_id.clone()).await;
    assert!(
        matches!(again, Err(Error::AlreadyExists(_))),
        "same id: {again:?}"
    );
    assert_eq!(accounts.user_by_email(&same_id.email).await.unwrap(), None);
    assert_eq!(
        accounts.user_by_email(&email).await.unwrap(),
        Some(first),
        "the first user is unchanged"
    );
}

/// 20 concurrent sign-ups with one email: exactly one succeeds, the rest are
/// `AlreadyExists`, and the stored user is the winner.
pub async fn concurrent_signups_create_one_user(accounts: Arc<dyn LocalAccounts>) {
    let email = fresh_email();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let accounts = accounts.clone();
            let user = new_user(&email);
            tokio::spawn(async move { accounts.create_user(user).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(user) => winners.push(user),
            Err(Error::AlreadyExists(_)) => {}
            Err(e) => panic!("a concurrent sign-up failed with {e:?}, not AlreadyExists"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent sign-up wins");
    assert_eq!(
        accounts.user_by_email(&email).await.unwrap().as_ref(),
        winners.first()
    );
}

/// Revocations add one each (also concurrently); `set_password` is a compare-and-set on
/// the version that also moves it on, so of concurrent resets bound to one version
/// exactly one wins; unknown users are `NotFound`.
pub async fn token_versions_and_passwords(accounts: Arc<dyn LocalAccounts>) {
    let user = accounts
        .create_user(new_user(&fresh_email()))
        .await
        .unwrap();
    let id = user.user_id.clone();
    assert_eq!(accounts.revoke_tokens(&id).await.unwrap(), 1);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let accounts = accounts.clone();
            let id = id.clone();
            tokio::spawn(async move { accounts.revoke_tokens(&id).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = accounts.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(stored.token_version, 11, "no concurrent revocation is lost");
    assert_eq!(stored.password_hash, user.password_hash);

    // A stale version changes nothing.
    assert_eq!(
        accounts
            .set_password(&id, "$argon2id$stale", 3)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        accounts
            .user_by_id(&id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        user.password_hash
    );
    // 10 concurrent changes bound to the current version: exactly one wins.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let accounts = accounts.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let hash = format!("$argon2id$new{i}");
                (hash.clone(), accounts.set_password(&id, &hash, 11).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (hash, result) = task.await.unwrap();
        if let Some(version) = result.unwrap() {
            assert_eq!(version, 12);
            winners.push(hash);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one change per version");
    let stored = accounts.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(Some(&stored.password_hash), winners.first());
    assert_eq!(stored.token_version, 12);

    let nobody = fresh_id("nobody");
    assert!(matches!(
        accounts.revoke_tokens(&nobody).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        accounts.set_password(&nobody, "$argon2id$x", 0).await,
        Err(Error::NotFound(_))
    ));
}

/// Of concurrent verifications exactly one reports that it verified; the time stays.
pub async fn email_verification_happens_once(accounts: Arc<dyn LocalAccounts>) {
    let user = accounts
        .create_user(new_user(&fresh_email()))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let accounts = accounts.clone();
            let id = user.user_id.clone();
            tokio::spawn(async move { accounts.mark_email_verified(&id).await })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "exactly one call verifies");
    let stored = accounts.user_by_id(&user.user_id).await.unwrap().unwrap();
    let at = stored.email_verified_at.expect("verified");
    assert!(!accounts.mark_email_verified(&user.user_id).await.unwrap());
    assert_eq!(
        accounts
            .user_by_id(&user.user_id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at,
        Some(at),
        "the first verification's time stays"
    );
    assert!(matches!(
        accounts.mark_email_verified(&fresh_id("nobody")).await,
        Err(Error::NotFound(_))
    ));
}
