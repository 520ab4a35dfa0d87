//! Scenarios run in parallel, results reported in scenario order: what the server suite and
//! the client suite share when they run `--jobs` scenarios at once.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinError;

use crate::runner::RunResult;

/// Runs `run(i)` for every `i < count`, at most `jobs` at once; `report` sees each result in
/// index order as soon as it and all before it are done. A task that panics is reported as
/// `failed(i, error)`, so a harness bug loses no other result.
pub async fn run_in_order<F, Fut>(
    count: usize,
    jobs: usize,
    run: F,
    failed: impl Fn(usize, JoinError) -> RunResult,
    mut report: impl FnMut(&mut RunResult),
) -> Vec<RunResult>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = RunResult> + Send + 'static,
{
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut index = HashMap::new();
    for i in 0..count {
        let limit = limit.clone();
        let task = run(i);
        let handle = set.spawn(async move {
            // The semaphore is never closed, so a permit always comes.
            let _permit = limit.acquire_owned().await;
            (i, task.await)
        });
        index.insert(handle.id(), i);
    }
    let mut results = Vec::with_capacity(count);
    let mut finished: BTreeMap<usize, RunResult> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => {
                finished.insert(i, r);
            }
            Err(e) => {
                if let Some(&i) = index.get(&e.id()) {
                    finished.insert(i, failed(i, e));
                }
            }
        }
        while let Some(mut r) = finished.remove(&results.len()) {
            report(&mut r);
            results.push(r);
        }
    }
    results
}
