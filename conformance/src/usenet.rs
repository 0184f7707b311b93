//! The usenet cases: what a store with [`StoreCapabilities::usenet`] must do, run by
//! [`run_usenet_suite`] with a [`UsenetFixture`] next to the store's [`StoreFixture`]. A store
//! without the capability must say so and answer the usenet calls as not implemented (the
//! default bodies), which the suite checks too.
//!
//! [`StoreCapabilities::usenet`]: chillproxy_core::StoreCapabilities::usenet

use chillproxy_core::{ContentKind, Credential, MagnetStatus, Secret, StoreError, UsenetAdd, UsenetHash};

use crate::{case, ensure, fail, no_key_in, Report, StoreFixture};

/// What the usenet cases need besides the store fixture.
pub struct UsenetFixture {
    /// NZB releases the upstream has cached, each with the link to add it by.
    pub cached: Vec<(UsenetHash, Secret)>,
    /// A usenet hash the upstream has never heard of.
    pub unknown: UsenetHash,
    /// A credential the upstream accepts whose plan has no usenet.
    pub without_usenet: Credential,
}

/// Runs the usenet cases (for a store without the capability: that it says so).
pub async fn run_usenet_suite(fixture: &StoreFixture, usenet: &UsenetFixture) -> Report {
    let (f, u) = (fixture, usenet);
    let store = &f.store;
    let mut cases = Vec::new();
    if !store.capabilities().usenet {
        case("a store without usenet plays no usenet, for any key", &mut cases, async {
            ensure(!store.plays(&f.valid, ContentKind::Usenet).await, || "plays usenet without the capability".into())?;
            match store.check_cached_usenet(&f.valid, std::slice::from_ref(&u.unknown)).await {
                Err(StoreError::NotImplemented { .. }) => Ok(()),
                other => Err(fail(format!("expected NotImplemented, got {other:?}"))),
            }
        })
        .await;
        return Report { store: store.name(), cases };
    }
    let first = || u.cached.first().ok_or_else(|| fail("the fixture has no cached release"));

    case("a key whose plan has usenet plays it; one without does not", &mut cases, async {
        ensure(store.plays(&f.valid, ContentKind::Usenet).await, || "the valid key does not play usenet".into())?;
        ensure(!store.plays(&u.without_usenet, ContentKind::Usenet).await, || "a key without usenet plays it".into())?;
        ensure(store.plays(&u.without_usenet, ContentKind::Torrent).await, || "torrents need usenet?".into())
    })
    .await;

    case("check_cached_usenet returns exactly the cached releases, by key, with files", &mut cases, async {
        let mut asked: Vec<UsenetHash> = u.cached.iter().map(|(h, _)| h.clone()).collect();
        asked.push(u.unknown.clone());
        let items = store.check_cached_usenet(&f.valid, &asked).await?;
        let mut got: Vec<String> = items.iter().map(|i| i.hash.to_string()).collect();
        got.sort();
        let mut want: Vec<String> = u.cached.iter().map(|(h, _)| h.key().to_string()).collect();
        want.sort();
        ensure(got == want, || format!("expected {want:?}, got {got:?}"))?;
        ensure(items.iter().all(|i| !i.files.is_empty()), || "a cached release came without files".into())
    })
    .await;

    case("a key without usenet gets no usenet answer", &mut cases, async {
        let asked: Vec<UsenetHash> = u.cached.iter().map(|(h, _)| h.clone()).collect();
        let items = store.check_cached_usenet(&u.without_usenet, &asked).await?;
        ensure(items.is_empty(), || format!("{} items for a key without usenet", items.len()))?;
        let (hash, link) = first()?;
        let add = UsenetAdd { hash, link, trusted: true, title: "release" };
        match store.add_usenet(&u.without_usenet, &add, None).await {
            Err(error @ StoreError::PaymentRequired { .. }) => no_key_in(&error, &u.without_usenet),
            other => Err(fail(format!("expected PaymentRequired, got {other:?}"))),
        }
    })
    .await;

    case("add_usenet of a cached release is downloaded, once, and plays", &mut cases, async {
        let (hash, link) = first()?;
        let add = UsenetAdd { hash, link, trusted: true, title: "release" };
        let added = store.add_usenet(&f.valid, &add, None).await?;
        ensure(added.status == MagnetStatus::Downloaded, || format!("status {:?}", added.status))?;
        ensure(added.hash == hash.key(), || format!("hash {} for {}", added.hash, hash.key()))?;
        let again = store.add_usenet(&f.valid, &add, None).await?;
        ensure(again.id == added.id, || format!("ids {} and {}", added.id, again.id))?;
        let polled = store.get_magnet(&f.valid, &added.id, None).await?;
        ensure(polled.files == added.files, || "get_magnet disagrees with add_usenet".into())?;
        let file = added.files.iter().max_by_key(|f| f.size).ok_or_else(|| fail("no files"))?;
        let link = store.generate_link(&f.valid, &added, file, None).await?;
        ensure(link.starts_with("http://") || link.starts_with("https://"), || format!("link {link:?}"))?;
        ensure(!link.contains(add.link.expose()), || "the NZB link reached the playback link".into())
    })
    .await;

    Report { store: store.name(), cases }
}
