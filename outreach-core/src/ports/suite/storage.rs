//! The shared [`Storage`] suite: every implementation runs these.
//!
//! Each function works under a fresh random prefix (`suite-<uuid>/…`) and deletes what it
//! wrote, so the suite can run against a store that is shared or already holds objects
//! (an S3 bucket, a data dir). Violations panic with a message that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::Error;
use crate::ports::storage::Storage;

/// A prefix no one else uses.
fn fresh_prefix() -> String {
    format!("suite-{}", uuid::Uuid::new_v4().simple())
}

fn assert_not_found<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(Error::NotFound(_)) => {}
        other => panic!("{what}: expected Error::NotFound, got {other:?}"),
    }
}

/// put/get/exists, overwrite, delete, delete of a missing key, `NotFound`, empty objects,
/// and keys with spaces and non-ASCII characters (user file names end up in keys).
pub async fn storage_roundtrip(storage: &dyn Storage) {
    let prefix = fresh_prefix();
    let key = format!("{prefix}/inputs/user-1/job-1/prospects.csv");

    assert!(
        !storage.exists(&key).await.unwrap(),
        "exists() of a key never written must be false"
    );
    assert_not_found(storage.get(&key).await, "get() of a key never written");

    storage
        .put(&key, Bytes::from_static(b"email\na@b.co\n"))
        .await
        .unwrap();
    assert!(storage.exists(&key).await.unwrap(), "exists() after put()");
    assert_eq!(
        storage.get(&key).await.unwrap(),
        Bytes::from_static(b"email\na@b.co\n"),
        "get() must return what put() stored"
    );

    storage
        .put(&key, Bytes::from_static(b"overwritten"))
        .await
        .unwrap();
    assert_eq!(
        storage.get(&key).await.unwrap(),
        Bytes::from_static(b"overwritten"),
        "put() on an existing key must replace the whole object"
    );

    let empty = format!("{prefix}/empty");
    storage.put(&empty, Bytes::new()).await.unwrap();
    assert!(
        storage.exists(&empty).await.unwrap(),
        "an empty object exists"
    );
    assert!(
        storage.get(&empty).await.unwrap().is_empty(),
        "an empty object reads back empty"
    );

    let odd = format!("{prefix}/outputs/Prospects — Q3 (final) 50% résumé.xlsx");
    storage
        .put(&odd, Bytes::from_static(b"odd name"))
        .await
        .unwrap();
    assert_eq!(
        storage.get(&odd).await.unwrap(),
        Bytes::from_static(b"odd name"),
        "a key with spaces, `%` and non-ASCII characters must round-trip"
    );
    assert_eq!(
        storage.list(&format!("{prefix}/outputs")).await.unwrap(),
        vec![odd.clone()],
        "list() must return such a key exactly as it was written"
    );

    for k in [&key, &empty, &odd] {
        storage.delete(k).await.unwrap();
        assert!(!storage.exists(k).await.unwrap(), "exists() after delete()");
    }
    assert_not_found(storage.get(&key).await, "get() after delete()");
    storage
        .delete(&key)
        .await
        .expect("delete() of a key already deleted must be Ok");
    storage
        .delete(&format!("{prefix}/never/written"))
        .await
        .expect("delete() of a key never written must be Ok");
    assert!(
        storage.list(&prefix).await.unwrap().is_empty(),
        "nothing is left under the prefix after deleting every key"
    );
}

/// `list` is recursive, sorted, matches whole segments (`a/b` never lists `a/bc`), takes
/// an optional trailing `/`, and is empty for a prefix with nothing under it.
pub async fn storage_list_prefix(storage: &dyn Storage) {
    let prefix = fresh_prefix();
    let p = |rest: &str| format!("{prefix}/{rest}");
    // Written out of order, so a store that lists in insertion order is caught.
    let keys = [
        p("a/bc/3"),
        p("a/b/2/x"),
        p("z"),
        p("a/b/1"),
        p("a/b0"),
        p("a/b/2/y/deep"),
    ];
    for key in &keys {
        storage
            .put(key, Bytes::from(key.clone().into_bytes()))
            .await
            .unwrap();
    }

    let expected_ab = vec![p("a/b/1"), p("a/b/2/x"), p("a/b/2/y/deep")];
    assert_eq!(
        storage.list(&p("a/b")).await.unwrap(),
        expected_ab,
        "list(a/b) must return exactly the keys under a/b/, recursively and sorted \
         (not a/bc/…, not a/b0)"
    );
    assert_eq!(
        storage.list(&p("a/b/")).await.unwrap(),
        expected_ab,
        "list(a/b/) must equal list(a/b)"
    );
    assert_eq!(
        storage.list(&p("a")).await.unwrap(),
        vec![
            p("a/b/1"),
            p("a/b/2/x"),
            p("a/b/2/y/deep"),
            p("a/b0"),
            p("a/bc/3")
        ],
        "list(a) must be recursive and sorted"
    );
    let mut all = keys.to_vec();
    all.sort();
    assert_eq!(
        storage.list(&prefix).await.unwrap(),
        all,
        "list(prefix) returns every key under it"
    );
    assert!(
        storage.list(&p("a/b/1")).await.unwrap().is_empty(),
        "a key is not a prefix of itself: nothing lies under a/b/1/"
    );
    assert!(
        storage.list(&p("nothing/here")).await.unwrap().is_empty(),
        "list() of a prefix with nothing under it is empty, not an error"
    );
    // Each object holds its own key's bytes.
    let bytes = |keys: &[String]| keys.iter().map(|k| k.len() as u64).sum::<u64>();
    assert_eq!(
        storage.size_under(&p("a/b")).await.unwrap(),
        bytes(&expected_ab),
        "size_under(a/b) sums the objects list(a/b) returns (not a/bc/…, not a/b0)"
    );
    assert_eq!(storage.size_under(&prefix).await.unwrap(), bytes(&all));
    assert_eq!(storage.size_under(&p("nothing/here")).await.unwrap(), 0);

    for key in &keys {
        storage.delete(key).await.unwrap();
    }
    assert!(storage.list(&prefix).await.unwrap().is_empty());
    assert_eq!(storage.size_under(&prefix).await.unwrap(), 0);
}

/// Size of the file streamed by [`storage_streams_files`]: about 20 MB, deliberately not
/// a multiple of any part or buffer size.
pub const STREAMED_FILE_LEN: u64 = 20 * 1024 * 1024 + 12_345;

/// Writes `len` bytes of a deterministic, non-repeating pattern to `path` (so a part
/// written twice, dropped or out of order changes the content).
async fn write_pattern(path: &Path, len: u64) {
    let mut file = tokio::fs::File::create(path).await.unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = len;
    let mut buf = Vec::with_capacity(1 << 16);
    while left > 0 {
        buf.clear();
        while buf.len() < (1 << 16) && (buf.len() as u64) < left {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            buf.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let take = buf.len().min(usize::try_from(left).unwrap());
        file.write_all(&buf[..take]).await.unwrap();
        left -= take as u64;
    }
    file.flush().await.unwrap();
}

/// Compares two files piece by piece, without loading either whole.
async fn assert_same_file(a: &Path, b: &Path) {
    let mut fa = tokio::fs::File::open(a).await.unwrap();
    let mut fb = tokio::fs::File::open(b).await.unwrap();
    let (la, lb) = (
        fa.metadata().await.unwrap().len(),
        fb.metadata().await.unwrap().len(),
    );
    assert_eq!(
        la,
        lb,
        "{} and {} differ in length",
        a.display(),
        b.display()
    );
    let mut ba = vec![0u8; 1 << 20];
    let mut bb = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = fa.read(&mut ba).await.unwrap();
        if n == 0 {
            break;
        }
        fb.read_exact(&mut bb[..n]).await.unwrap();
        if ba[..n] != bb[..n] {
            let at = ba[..n].iter().zip(&bb[..n]).position(|(x, y)| x != y);
            panic!(
                "{} and {} differ near byte {}",
                a.display(),
                b.display(),
                offset + at.unwrap_or(0) as u64
            );
        }
        offset += n as u64;
    }
}

/// `put_file`/`get_to_file` of a ~20 MB file: sizes reported, content identical, `get`
/// agrees; `get_to_file` of a missing key is `NotFound` and creates no file; `put_file`
/// of a missing local file is an error. `scratch` is an empty directory the suite may use.
pub async fn storage_streams_files(storage: &dyn Storage, scratch: &Path) {
    let prefix = fresh_prefix();
    let key = format!("{prefix}/big/input.csv");
    let source = scratch.join("source.bin");
    let copy = scratch.join("copy.bin");
    write_pattern(&source, STREAMED_FILE_LEN).await;

    let sent = storage.put_file(&key, &source).await.unwrap();
    assert_eq!(sent, STREAMED_FILE_LEN, "put_file() returns the bytes sent");
    assert_eq!(
        storage.list(&prefix).await.unwrap(),
        vec![key.clone()],
        "after put_file() exactly the key is listed (no upload leftovers)"
    );
    assert_eq!(
        storage.size_under(&prefix).await.unwrap(),
        STREAMED_FILE_LEN,
        "size_under() counts a multipart object once, without upload leftovers"
    );

    let received = storage.get_to_file(&key, &copy).await.unwrap();
    assert_eq!(
        received, STREAMED_FILE_LEN,
        "get_to_file() returns the bytes written"
    );
    assert_same_file(&source, &copy).await;

    // Downloading again replaces the file rather than appending to it.
    assert_eq!(
        storage.get_to_file(&key, &copy).await.unwrap(),
        STREAMED_FILE_LEN
    );
    assert_same_file(&source, &copy).await;

    let whole = storage.get(&key).await.unwrap();
    assert_eq!(
        whole.len() as u64,
        STREAMED_FILE_LEN,
        "get() sees the same object"
    );
    drop(whole);

    // A small file (below any multipart threshold) also goes through put_file.
    let small = scratch.join("small.csv");
    tokio::fs::write(&small, b"email\nx@y.z\n").await.unwrap();
    let small_key = format!("{prefix}/small.csv");
    assert_eq!(storage.put_file(&small_key, &small).await.unwrap(), 12);
    assert_eq!(
        storage.get(&small_key).await.unwrap(),
        Bytes::from_static(b"email\nx@y.z\n")
    );

    let missing_target = scratch.join("missing.bin");
    assert_not_found(
        storage
            .get_to_file(&format!("{prefix}/missing"), &missing_target)
            .await,
        "get_to_file() of a missing key",
    );
    assert!(
        !missing_target.exists(),
        "get_to_file() of a missing key must not create the destination"
    );
    let leftovers: Vec<_> = std::fs::read_dir(scratch)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name != "source.bin" && name != "copy.bin" && name != "small.csv")
        .collect();
    assert!(
        leftovers.is_empty(),
        "get_to_file() left files behind: {leftovers:?}"
    );

    assert!(
        storage
            .put_file(
                &format!("{prefix}/from-nowhere"),
                &scratch.join("does-not-exist")
            )
            .await
            .is_err(),
        "put_file() of a missing local file must fail"
    );
    assert!(
        !storage
            .exists(&format!("{prefix}/from-nowhere"))
            .await
            .unwrap(),
        "a failed put_file() must not create the object"
    );

    storage.delete(&key).await.unwrap();
    storage.delete(&small_key).await.unwrap();
    assert!(storage.list(&prefix).await.unwrap().is_empty());
}

/// Keys that could escape the store or mean different things on different stores are
/// refused with [`Error::InvalidKey`] by every method, and nothing is written.
pub async fn storage_rejects_bad_keys(storage: &dyn Storage) {
    let prefix = fresh_prefix();
    let bad = [
        String::new(),
        "/etc/passwd".to_owned(),
        "..".to_owned(),
        format!("{prefix}/../escape"),
        format!("{prefix}/a/../../escape"),
        "../escape".to_owned(),
        format!("{prefix}/./a"),
        format!("{prefix}//a"),
        format!("{prefix}/a/"),
        format!("{prefix}\\..\\escape"),
        format!("{prefix}/a\\b"),
        format!("{prefix}/nul\u{0}byte"),
    ];
    let scratch = std::env::temp_dir().join(format!("{prefix}-unused"));
    for key in &bad {
        let expect_invalid = |what: &str, result: Result<(), Error>| match result {
            Err(Error::InvalidKey { .. }) => {}
            other => panic!("{what}({key:?}) must be Error::InvalidKey, got {other:?}"),
        };
        expect_invalid(
            "put",
            storage.put(key, Bytes::from_static(b"x")).await.map(drop),
        );
        expect_invalid("get", storage.get(key).await.map(drop));
        expect_invalid("exists", storage.exists(key).await.map(drop));
        expect_invalid("delete", storage.delete(key).await);
        expect_invalid(
            "get_to_file",
            storage.get_to_file(key, &scratch).await.map(drop),
        );
        expect_invalid("put_file", storage.put_file(key, &scratch).await.map(drop));
        if !key.is_empty() && !key.ends_with('/') {
            expect_invalid("list", storage.list(key).await.map(drop));
        }
    }
    assert!(
        !scratch.exists(),
        "a refused get_to_file() must not touch the destination"
    );
    assert!(
        storage.list(&prefix).await.unwrap().is_empty(),
        "nothing may be written under refused keys"
    );
}
