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
    concurrent_signups_create_one_user(accounts).await;
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
