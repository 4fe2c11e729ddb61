//! The blob store on a real file system, in a temporary directory: commits, refusals, cut-backs,
//! resumption and one-request uploads.

use super::*;

fn body(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Send {
    futures_util::stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    )
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn ranges_are_clamped_or_refused() {
    assert_eq!(satisfiable(None, 10), Some((0, 10)));
    assert_eq!(satisfiable(Some((2, Some(4))), 10), Some((2, 3)));
    assert_eq!(satisfiable(Some((2, None)), 10), Some((2, 8)));
    assert_eq!(satisfiable(Some((8, Some(99))), 10), Some((8, 2)));
    assert_eq!(satisfiable(Some((10, None)), 10), None);
    assert_eq!(satisfiable(Some((4, Some(3))), 10), None);
    assert_eq!(satisfiable(Some((0, None)), 0), None);
    assert_eq!(satisfiable(None, 0), Some((0, 0)));
}

#[tokio::test]
async fn chunked_upload_commits_only_with_the_right_digest() {
    let store = BlobStore::open(tempdir("commit"), 100).await.unwrap();
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    store.start_upload(id).await.unwrap();
    assert_eq!(
        store.append(id, Some(0), body(&[b"hello "])).await.unwrap(),
        6
    );
    assert!(matches!(
        store.append(id, Some(3), body(&[b"x"])).await,
        Err(StoreError::OffsetMismatch {
            expected: 6,
            given: 3
        })
    ));
    assert_eq!(
        store.append(id, Some(6), body(&[b"world"])).await.unwrap(),
        11
    );
    let digest = Digest::sha256_of(b"hello world!");
    // A final chunk that does not start where the upload ends changes nothing.
    assert!(matches!(
        store.commit(id, Some(10), &digest, body(&[b"!"])).await,
        Err(StoreError::OffsetMismatch {
            expected: 11,
            given: 10
        })
    ));
    assert_eq!(
        store
            .commit(id, Some(11), &digest, body(&[b"!"]))
            .await
            .unwrap(),
        12
    );
    assert_eq!(store.stat(&digest).await.unwrap(), Some(12));
}

#[tokio::test]
async fn digest_mismatch_leaves_no_blob() {
    let store = BlobStore::open(tempdir("mismatch"), 100).await.unwrap();
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    store.start_upload(id).await.unwrap();
    store.append(id, None, body(&[b"abc"])).await.unwrap();
    let wrong = Digest::sha256_of(b"abd");
    assert!(matches!(
        store.commit(id, None, &wrong, body(&[])).await,
        Err(StoreError::DigestMismatch { .. })
    ));
    assert_eq!(store.stat(&wrong).await.unwrap(), None);
    assert!(matches!(
        store.upload_size(id).await,
        Err(StoreError::UploadUnknown)
    ));
}

#[tokio::test]
async fn interrupted_chunk_is_cut_back() {
    let store = BlobStore::open(tempdir("cut"), 100).await.unwrap();
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    store.start_upload(id).await.unwrap();
    store.append(id, None, body(&[b"abc"])).await.unwrap();
    let broken = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"def")),
        Err("connection reset".to_string()),
    ]);
    assert!(matches!(
        store.append(id, None, broken).await,
        Err(StoreError::BodyInterrupted(_))
    ));
    assert_eq!(store.upload_size(id).await.unwrap(), 3);
    store
        .commit(id, None, &Digest::sha256_of(b"abc"), body(&[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_put_leaves_no_upload_behind() {
    let dir = tempdir("put");
    let store = BlobStore::open(&dir, 100).await.unwrap();
    let key = || UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    let digest = Digest::sha256_of(b"abc");
    let broken = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"ab")),
        Err("connection reset".to_string()),
    ]);
    assert!(matches!(
        store.put(key(), &digest, broken).await,
        Err(StoreError::BodyInterrupted(_))
    ));
    assert!(matches!(
        store.put(key(), &digest, body(&[b"abd"])).await,
        Err(StoreError::DigestMismatch { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.join("uploads")).unwrap().count(), 0);
    assert_eq!(store.put(key(), &digest, body(&[b"abc"])).await.unwrap(), 3);
    assert_eq!(std::fs::read_dir(dir.join("uploads")).unwrap().count(), 0);
    assert_eq!(store.stat(&digest).await.unwrap(), Some(3));
}

#[tokio::test]
async fn an_upload_is_invisible_to_other_owners() {
    let store = BlobStore::open(tempdir("owner"), 100).await.unwrap();
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    store.start_upload(id).await.unwrap();
    let other = UploadKey { owner: 2, ..id };
    assert!(matches!(
        store.upload_size(other).await,
        Err(StoreError::UploadUnknown)
    ));
    assert!(matches!(
        store.append(other, None, body(&[b"x"])).await,
        Err(StoreError::UploadUnknown)
    ));
}

/// Chunks that end mid-block and span several write buffers: every byte lands where it
/// belongs, whichever way (direct or buffered) it was written.
#[tokio::test]
async fn unaligned_chunks_across_buffers_read_back_whole() {
    let store = BlobStore::open(tempdir("unaligned"), 100).await.unwrap();
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    store.start_upload(id).await.unwrap();
    let sizes = [
        1usize,
        4095,
        5000,
        3 * 1024 * 1024 + 7,
        4096,
        9 * 1024 * 1024 + 1,
    ];
    let mut all = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        let chunk: Vec<u8> = (0..size).map(|j| (j * 31 + i * 7) as u8).collect();
        // Frames of odd sizes, as a socket would deliver them.
        let frames: Vec<Result<Bytes, String>> = chunk
            .chunks(65_521)
            .map(|f| Ok(Bytes::copy_from_slice(f)))
            .collect();
        all.extend_from_slice(&chunk);
        let size = store
            .append(
                id,
                Some(all.len() as u64 - chunk.len() as u64),
                futures_util::stream::iter(frames),
            )
            .await
            .unwrap();
        assert_eq!(size, all.len() as u64);
    }
    let digest = Digest::sha256_of(&all);
    store.commit(id, None, &digest, body(&[])).await.unwrap();
    let read = store.read(&digest, None).await.unwrap();
    assert_eq!(read.size, all.len() as u64);
    assert_eq!(std::fs::read(store.blob_path(&digest)).unwrap(), all);
}

/// A final part past the size committed in one call streams on from the frames already read.
#[tokio::test]
async fn a_long_final_part_keeps_the_frames_read_before_it_streamed() {
    let store = BlobStore::open(tempdir("long-final"), 100).await.unwrap();
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    store.start_upload(id).await.unwrap();
    store.append(id, None, body(&[b"head:"])).await.unwrap();
    let frames: Vec<Vec<u8>> = (0..3u8).map(|i| vec![b'a' + i; 40 * 1024]).collect();
    let all = [b"head:".to_vec(), frames.concat()].concat();
    let digest = Digest::sha256_of(&all);
    let stream = |frames: &[Vec<u8>]| {
        futures_util::stream::iter(
            frames
                .iter()
                .map(|f| Ok::<_, String>(Bytes::from(f.clone())))
                .collect::<Vec<_>>(),
        )
    };
    assert!(matches!(
        store.commit(id, Some(4), &digest, stream(&frames)).await,
        Err(StoreError::OffsetMismatch {
            expected: 5,
            given: 4
        })
    ));
    let size = store.commit(id, Some(5), &digest, stream(&frames)).await;
    assert_eq!(size.unwrap(), all.len() as u64);
    assert_eq!(std::fs::read(store.blob_path(&digest)).unwrap(), all);
}

/// A final part whose body breaks is answered from the upload's own state first, as when the
/// upload is checked before its body is read.
#[tokio::test]
async fn a_broken_final_part_reports_an_unknown_upload_or_a_wrong_offset_first() {
    let store = BlobStore::open(tempdir("broken-final"), 100).await.unwrap();
    let broken = || {
        futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err("the client went away".to_owned()),
        ])
    };
    let digest = Digest::sha256_of(b"abc");
    let unknown = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    assert!(matches!(
        store.commit(unknown, None, &digest, broken()).await,
        Err(StoreError::UploadUnknown)
    ));
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    store.start_upload(id).await.unwrap();
    assert!(matches!(
        store.commit(id, Some(7), &digest, broken()).await,
        Err(StoreError::OffsetMismatch {
            expected: 0,
            given: 7
        })
    ));
    assert!(matches!(
        store.commit(id, Some(0), &digest, broken()).await,
        Err(StoreError::BodyInterrupted(_))
    ));
    // Nothing was written: the upload still commits whole afterwards.
    assert_eq!(
        store
            .commit(id, Some(0), &digest, body(&[b"abc"]))
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn upload_resumes_after_state_is_lost() {
    let dir = tempdir("resume");
    let id = UploadKey {
        id: UploadId::new_random(),
        owner: 1,
    };
    {
        let store = BlobStore::open(&dir, 100).await.unwrap();
        store.start_upload(id).await.unwrap();
        store.append(id, None, body(&[b"first"])).await.unwrap();
    }
    let store = BlobStore::open(&dir, 100).await.unwrap();
    store.append(id, Some(5), body(&[b"second"])).await.unwrap();
    store
        .commit(id, None, &Digest::sha256_of(b"firstsecond"), body(&[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_repository_has_at_most_its_limit_of_uploads_in_progress() {
    let store = BlobStore::open(tempdir("limit"), 2).await.unwrap();
    let session = |owner| UploadKey {
        id: UploadId::new_random(),
        owner,
    };
    let (a, b) = (session(1), session(1));
    store.start_upload(a).await.unwrap();
    store.start_upload(b).await.unwrap();
    assert!(matches!(
        store.start_upload(session(1)).await,
        Err(StoreError::TooManyUploads { limit: 2 })
    ));
    // Another repository's sessions are counted apart.
    store.start_upload(session(2)).await.unwrap();
    // A session that ends frees its place.
    store.cancel(a).await.unwrap();
    store.start_upload(session(1)).await.unwrap();
}

#[tokio::test]
async fn the_sweep_removes_only_sessions_unwritten_since_the_cutoff() {
    let dir = tempdir("sweep");
    let store = BlobStore::open(&dir, 100).await.unwrap();
    let key = |owner| UploadKey {
        id: UploadId::new_random(),
        owner,
    };
    let (old, fresh) = (key(1), key(1));
    store.start_upload(old).await.unwrap();
    store.append(old, None, body(&[b"abc"])).await.unwrap();
    let cutoff = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
    std::fs::write(dir.join("uploads").join("not-a-session"), b"x").unwrap();
    assert_eq!(store.sweep_uploads(cutoff).await.unwrap(), 1);
    assert!(matches!(
        store.upload_size(old).await,
        Err(StoreError::UploadUnknown)
    ));
    store.start_upload(fresh).await.unwrap();
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    assert_eq!(store.sweep_uploads(past).await.unwrap(), 0);
    assert_eq!(store.upload_size(fresh).await.unwrap(), 0);
    assert!(dir.join("uploads").join("not-a-session").exists());
}

mod chunking {
    //! A chunked upload split at any offsets gives the same blob as a monolithic one.

    use super::*;
    use proptest::prelude::*;

    fn stream(chunk: Vec<u8>) -> impl Stream<Item = Result<Bytes, String>> + Send + 'static {
        futures_util::stream::iter(vec![Ok(Bytes::from(chunk))])
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 24,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn chunked_and_monolithic_uploads_store_the_same_blob(
            data in prop::collection::vec(any::<u8>(), 0..(5 << 20)),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
                offsets.push(0);
                offsets.push(data.len());
                offsets.sort_unstable();
                offsets.dedup();
                let digest = berth_oci::Digest::sha256_of(&data);
                let store = BlobStore::open(tempdir("proptest-chunked"), 100).await.unwrap();
                let key = UploadKey { id: UploadId::new_random(), owner: 1 };
                store.start_upload(key).await.unwrap();
                for pair in offsets.windows(2) {
                    let chunk = data[pair[0]..pair[1]].to_vec();
                    store.append(key, Some(pair[0] as u64), stream(chunk)).await.unwrap();
                }
                let size = store.commit(key, None, &digest, stream(Vec::new())).await.unwrap();
                assert_eq!(size, data.len() as u64);
                let chunked = std::fs::read(store.blob_path(&digest)).unwrap();
                let whole = BlobStore::open(tempdir("proptest-whole"), 100).await.unwrap();
                let key = UploadKey { id: UploadId::new_random(), owner: 1 };
                assert_eq!(whole.put(key, &digest, stream(data.clone())).await.unwrap(), size);
                let monolithic = std::fs::read(whole.blob_path(&digest)).unwrap();
                assert!(chunked == data && monolithic == data);
            });
        }
    }
}
