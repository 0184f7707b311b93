//! The stream list: a credential per store entry, candidates from the sources, cache checks on
//! the stores, then ranked and formatted Stremio streams. Problems become ⚠️ streams; the list
//! never fails.

mod acquire;
mod availability;
mod context;
mod format;
mod rank;
mod render;
mod request;
mod results;
mod sources;
#[cfg(test)]
mod tests;
mod warm;

use std::sync::Arc;

use chillproxy_core::{AuthPurpose, AuthRequest, Credential, NzbIndexer};
use chillproxy_stremio::{warning, Stream};
use futures::future::join_all;

use crate::problems::{auth_problem, store_problem};
use availability::{check_cached, plays_usenet, Session};
pub(crate) use context::StreamsContext;
use rank::rank;
pub(crate) use render::StreamListBody;
use render::{ListWriter, Play, UrlShape};
pub(crate) use request::StreamRequest;
pub(crate) use results::SearchResults;
use sources::find_candidates;
use warm::{prepared, ListPlan, ListShape};

/// The one stream of a release being acquired (see `acquire`): it plays through the usual
/// playback route, which says "still downloading" until the store has it.
fn acquiring(request: &StreamRequest<'_>, session: &Session<'_>, candidate: &chillproxy_core::Candidate) -> Stream {
    let file_name = format::guessed_file_name(&candidate.title);
    let play = Play::new(session.entry, &candidate.hash, candidate.kind(), candidate.file_idx);
    let url = UrlShape::new(request).url(&play, &chillproxy_stremio::encode_segment(&file_name));
    Stream {
        url: Some(url),
        external_url: None,
        name: format!("⏳ [{}] Downloading", session.entry.c.to_ascii_uppercase()),
        description: format!("⏳ Downloading {} — ready in a few minutes", candidate.title),
        behavior_hints: Some(chillproxy_stremio::BehaviorHints {
            filename: Some(file_name),
            not_web_ready: true,
            ..Default::default()
        }),
    }
}

/// Builds the stream list. Never fails: problems are returned as ⚠️ streams.
pub(crate) async fn list_streams(ctx: &StreamsContext, request: &StreamRequest<'_>) -> StreamListBody {
    let (streams, warnings) = build_list(ctx, request).await;
    match streams {
        Some(mut writer) => {
            for warning in &warnings {
                writer.push_stream(warning);
            }
            writer.finish()
        }
        None => StreamListBody::from_streams(&warnings),
    }
}

/// The playable streams (written, `None` when there are none) and the warnings to add after.
async fn build_list<'a>(ctx: &StreamsContext, request: &StreamRequest<'a>) -> (Option<ListWriter>, Vec<Stream>) {
    let plugins = &ctx.plugins;
    // Only a warning links to the configure page; with sealing keys the link costs a seal, so
    // it is made on the first warning.
    let configure_url = std::sync::OnceLock::new();
    let configure = || configure_url.get_or_init(|| request.configure_url()).as_str();
    let mut warnings = Vec::new();

    // 1. A credential for every store entry, concurrently (most configs have one: no join).
    let resolve = |entry: &'a chillproxy_core::StoreEntry| async move {
        let store = plugins.store_by_code(&entry.c).cloned();
        let auth = AuthRequest { entry, device: &request.client.device, purpose: AuthPurpose::StreamList };
        (entry, store, plugins.auth.resolve(&auth).await)
    };
    let resolutions = match request.config.stores.as_slice() {
        [entry] => vec![resolve(entry).await],
        entries => join_all(entries.iter().map(resolve)).await,
    };
    let mut sessions = Vec::new();
    for (entry, store, resolution) in resolutions {
        let Some(store) = store else { continue };
        match resolution {
            Ok(credential) => sessions.push(Session { entry, store, credential, usenet: false }),
            Err(error) => {
                let problem = auth_problem(store.display_name(), &error);
                warnings.push(warning(&problem.title, problem.description, configure()));
            }
        }
    }
    if sessions.is_empty() {
        return (None, warnings);
    }

    // 2. Candidates from every source, concurrently.
    let credentials: Vec<(&'static str, &Credential)> =
        sessions.iter().map(|s| (s.store.name(), &s.credential)).collect();
    let (found, source_problem) = find_candidates(
        ctx,
        request.media,
        request.meta,
        (&request.config.indexers, request.config.usenet_indexers()),
        &credentials,
    )
    .await;
    if let Some(problem) = source_problem {
        warnings.push(warning("No indexer answered", problem, configure()));
    }
    for notice in &found.notices {
        warnings.push(warning("Some results could not be used", notice.clone(), configure()));
    }
    let candidates = &found.candidates;
    if candidates.is_empty() {
        return (None, warnings);
    }
    let prepared = prepared(&ctx.prepared, &found, ctx.sources_ttl);
    if prepared.has_usenet() {
        // Which stores play usenet with these credentials; the NZBs booked for playback once.
        plays_usenet(&mut sessions).await;
        if !prepared.nzbs_booked.swap(true, std::sync::atomic::Ordering::Relaxed) {
            ctx.memory.nzbs.note(&found).await;
        }
    }

    // 3. The list shape (which streams, in which order) when the same shape was worked out for
    //    the same stores and preferences while the availability memory stayed the same; else
    //    which store has which hash cached, then the viewer's filters and order.
    let generation = ctx.memory.cache.local().generation();
    let shape = ListShape {
        codes: sessions.iter().map(|s| s.entry.c.as_str()).collect(),
        usenet: sessions.iter().map(|s| s.usenet).collect(),
        request,
    };
    let plan = match prepared.plan(&shape, generation) {
        Some(plan) => plan,
        None => {
            let checked = check_cached(ctx, &sessions, &request.client.device, &prepared).await;
            for (index, error) in &checked.failed {
                let problem = store_problem(sessions[*index].store.display_name(), error, &plugins.available_stores);
                warnings.push(warning(&problem.title, problem.description, configure()));
            }
            let entries = rank(request, &sessions, &prepared, &checked);
            let plan = Arc::new(ListPlan::new(&shape, generation, checked.from_memory_until, entries));
            if checked.from_memory_until.is_some() {
                prepared.keep_plan(plan.clone());
            }
            plan
        }
    };
    if plan.entries.is_empty() {
        if request.config.cached && request.config.acquire && warnings.is_empty() {
            if let Some((session, candidate)) = acquire::acquire(ctx, request, &sessions, candidates).await {
                let stream = acquiring(request, &sessions[session], &candidates[candidate]);
                let mut writer = ListWriter::new(1024);
                writer.push_stream(&stream);
                return (Some(writer), warnings);
            }
        }
        return (None, warnings);
    }

    // 4. Each stream: its pre-rendered body behind this request's playback URL.
    let mut urls = UrlShape::new(request);
    let by_user_indexer = |e: &warm::PlanEntry| {
        candidates[e.candidate].nzb.as_ref().is_some_and(|nzb| matches!(nzb.indexer, NzbIndexer::User { .. }))
    };
    if plan.entries.iter().any(by_user_indexer) {
        urls.carry_usenet_indexers();
    }
    let per_url = urls.len() + 160;
    let mut writer = ListWriter::new(plan.entries.iter().map(|e| e.rendered.tail.len() + per_url).sum());
    for entry in &plan.entries {
        let candidate = &candidates[entry.candidate];
        let play = Play {
            entry: sessions[entry.session].entry,
            hash: &candidate.hash,
            kind: candidate.kind(),
            file_idx: entry.file_idx,
            part: entry.part,
        };
        writer.push_rendered(&mut urls, &play, &entry.rendered);
    }
    (Some(writer), warnings)
}
