//! chillproxy-conformance: the store conformance suite. One behaviour suite decides what "works"
//! means for every store plugin (OpenDAL's behaviour tests are the model): a plugin describes a
//! fake of its upstream in a [`StoreFixture`] and calls [`run_store_suite`]; a new plugin gets
//! every case by doing that once.
//!
//! A case that the store answers with [`StoreError::NotImplemented`] is reported as
//! [`Outcome::NotImplemented`], so stub plugins run the suite too and show what is missing.
//!
//! Depends on chillproxy-core only.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use chillproxy_core::{Credential, InfoHash, MagnetStatus, StoreError, StoreProvider};

mod usenet;
pub use usenet::{run_usenet_suite, UsenetFixture};

/// What the suite needs: the store under test pointed at a fake (or a real sandbox account),
/// credentials, and what the fake knows.
pub struct StoreFixture {
    pub store: Arc<dyn StoreProvider>,
    /// A credential the upstream accepts.
    pub valid: Credential,
    /// A credential the upstream rejects.
    pub invalid: Credential,
    /// Hashes the upstream has cached, each with at least one video file. For a
    /// [`chillproxy_core::CacheKnowledge::HistoryOnly`] store: hashes ready in the valid
    /// credential's own library.
    pub cached: Vec<InfoHash>,
    /// A hash the upstream has never heard of.
    pub unknown: InfoHash,
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    /// The store said the operation is not implemented (a stub).
    NotImplemented,
}

/// The results of every case, in order.
#[derive(Debug, Clone)]
pub struct Report {
    pub store: &'static str,
    pub cases: Vec<(&'static str, Outcome)>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.count(|o| *o == Outcome::Passed)
    }

    pub fn failed(&self) -> Vec<(&'static str, String)> {
        self.cases
            .iter()
            .filter_map(|(name, o)| match o {
                Outcome::Failed(why) => Some((*name, why.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn not_implemented(&self) -> Vec<&'static str> {
        self.cases.iter().filter(|(_, o)| *o == Outcome::NotImplemented).map(|(n, _)| *n).collect()
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|(_, o)| f(o)).count()
    }

    /// Panics with the whole report unless every case passed.
    pub fn assert_all_passed(&self) {
        assert!(self.failed().is_empty() && self.not_implemented().is_empty(), "{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "store conformance for {}: {} passed, {} failed, {} not implemented",
            self.store,
            self.passed(),
            self.failed().len(),
            self.not_implemented().len()
        )?;
        for (name, outcome) in &self.cases {
            match outcome {
                Outcome::Passed => writeln!(f, "  ok       {name}")?,
                Outcome::NotImplemented => writeln!(f, "  not impl {name}")?,
                Outcome::Failed(why) => writeln!(f, "  FAILED   {name}: {why}")?,
            }
        }
        Ok(())
    }
}

type CaseResult = Result<(), CaseError>;

enum CaseError {
    NotImplemented,
    Failed(String),
}

impl From<StoreError> for CaseError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotImplemented { .. } => CaseError::NotImplemented,
            other => CaseError::Failed(format!("unexpected error: {other}")),
        }
    }
}

fn fail(why: impl Into<String>) -> CaseError {
    CaseError::Failed(why.into())
}

fn ensure(condition: bool, why: impl FnOnce() -> String) -> CaseResult {
    if condition {
        Ok(())
    } else {
        Err(fail(why()))
    }
}

/// A secret must never show in an error message.
fn no_key_in(error: &StoreError, credential: &Credential) -> CaseResult {
    let text = format!("{error} {error:?}");
    ensure(!text.contains(credential.key.expose()), || format!("the error shows the key: {text}"))
}

async fn case(name: &'static str, cases: &mut Vec<(&'static str, Outcome)>, run: impl Future<Output = CaseResult>) {
    let outcome = match run.await {
        Ok(()) => Outcome::Passed,
        Err(CaseError::NotImplemented) => Outcome::NotImplemented,
        Err(CaseError::Failed(why)) => Outcome::Failed(why),
    };
    cases.push((name, outcome));
}

/// Runs every case against the fixture.
pub async fn run_store_suite(fixture: &StoreFixture) -> Report {
    let f = fixture;
    let store = &f.store;
    let mut cases = Vec::new();

    case("check_cached returns exactly the cached hashes, with files", &mut cases, async {
        let mut asked = f.cached.clone();
        asked.push(f.unknown.clone());
        let items = store.check_cached(&f.valid, &asked).await?;
        let mut got: Vec<&InfoHash> = items.iter().map(|i| &i.hash).collect();
        got.sort();
        let mut want: Vec<&InfoHash> = f.cached.iter().collect();
        want.sort();
        ensure(got == want, || format!("expected {want:?}, got {got:?}"))?;
        // Stores whose check names no files (Premiumize's, a history-only store's library) may
        // answer without them.
        let needs_files = store.capabilities().check_lists_files;
        ensure(!needs_files || items.iter().all(|i| !i.files.is_empty()), || "a cached hash came without files".into())
    })
    .await;

    case("check_cached with no hashes answers nothing", &mut cases, async {
        let items = store.check_cached(&f.valid, &[]).await?;
        ensure(items.is_empty(), || format!("expected no items, got {}", items.len()))
    })
    .await;

    case("a rejected credential is Unauthorized, without the key in the message", &mut cases, async {
        match store.check_cached(&f.invalid, &f.cached).await {
            Err(error @ StoreError::Unauthorized { .. }) => no_key_in(&error, &f.invalid),
            Err(StoreError::NotImplemented { .. }) => Err(CaseError::NotImplemented),
            Err(other) => Err(fail(format!("expected Unauthorized, got {other:?}"))),
            Ok(_) => Err(fail("a rejected credential was accepted")),
        }
    })
    .await;

    case("account describes the subscription", &mut cases, async {
        let account = store.account(&f.valid).await?;
        ensure(!account.subscription.is_empty(), || "empty subscription".into())
    })
    .await;

    case("add_magnet of a cached hash is downloaded, with files", &mut cases, async {
        let hash = f.cached.first().ok_or_else(|| fail("the fixture has no cached hash"))?;
        let magnet = store.add_magnet(&f.valid, hash, None).await?;
        ensure(magnet.status == MagnetStatus::Downloaded, || format!("status {:?}", magnet.status))?;
        ensure(&magnet.hash == hash, || format!("hash {} for {hash}", magnet.hash))?;
        ensure(!magnet.files.is_empty(), || "no files".into())?;
        let again = store.get_magnet(&f.valid, &magnet.id, None).await?;
        ensure(again.id == magnet.id && again.files == magnet.files, || "get_magnet disagrees with add_magnet".into())
    })
    .await;

    case("adding a hash twice gives the same torrent", &mut cases, async {
        let hash = f.cached.first().ok_or_else(|| fail("the fixture has no cached hash"))?;
        let first = store.add_magnet(&f.valid, hash, None).await?;
        let second = store.add_magnet(&f.valid, hash, None).await?;
        ensure(first.id == second.id, || format!("ids {} and {}", first.id, second.id))
    })
    .await;

    case("generate_link gives an http(s) link for a file", &mut cases, async {
        let hash = f.cached.first().ok_or_else(|| fail("the fixture has no cached hash"))?;
        let magnet = store.add_magnet(&f.valid, hash, None).await?;
        let file = magnet.files.iter().max_by_key(|f| f.size).ok_or_else(|| fail("no files"))?;
        let link = store.generate_link(&f.valid, &magnet, file, None).await?;
        ensure(link.starts_with("http://") || link.starts_with("https://"), || format!("link {link:?}"))
    })
    .await;

    case("get_magnet of an id that does not exist is NotFound", &mut cases, async {
        match store.get_magnet(&f.valid, "999999999", None).await {
            Err(StoreError::NotFound { .. }) => Ok(()),
            Err(StoreError::NotImplemented { .. }) => Err(CaseError::NotImplemented),
            Err(other) => Err(fail(format!("expected NotFound, got {other:?}"))),
            Ok(m) => Err(fail(format!("got a torrent: {}", m.id))),
        }
    })
    .await;

    case("files have names, paths starting with '/', and sizes", &mut cases, async {
        let items = store.check_cached(&f.valid, &f.cached).await?;
        for file in items.iter().flat_map(|i| &i.files) {
            ensure(!file.name.is_empty() && !file.name.contains('/'), || format!("name {:?}", file.name))?;
            ensure(file.path.starts_with('/'), || format!("path {:?}", file.path))?;
        }
        Ok(())
    })
    .await;

    Report { store: store.name(), cases }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::store::NotImplementedStore;
    use chillproxy_core::Secret;

    #[tokio::test]
    async fn a_stub_store_is_reported_not_implemented_everywhere() {
        let fixture = StoreFixture {
            store: Arc::new(NotImplementedStore { name: "stub", code: "st", display_name: "Stub" }),
            valid: Credential::new(Secret::new("good"), "token"),
            invalid: Credential::new(Secret::new("bad"), "token"),
            cached: vec![InfoHash::parse(&"a".repeat(40)).unwrap()],
            unknown: InfoHash::parse(&"b".repeat(40)).unwrap(),
        };
        let report = run_store_suite(&fixture).await;
        assert_eq!(report.not_implemented().len(), report.cases.len(), "{report}");
        assert!(report.to_string().contains("0 passed, 0 failed"));
    }
}
