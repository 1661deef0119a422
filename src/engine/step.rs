//! One step of a run: compute an asset (from its source or its upstream tables), store it
//! through the [`IoManager`], and evaluate its checks — or find it up to date and check only
//! what changed, or (a checks-only run) evaluate its checks on the stored data. The scheduler
//! decides when a step runs; this file is what it does, and knows nothing of other steps.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Instant, SystemTime};

use polars::prelude::*;

use super::fetch::{self, SourceFetcher};
use super::io::{IoManager, SinkError};
use super::{
    EngineError, RunPlan, check, data_version, definition_hash, gate, profile, source, transform,
};
use crate::model::contract::{DriftPolicy, SchemaDrift};
use crate::model::{
    AssetCheckResult, AssetDefinition, AssetGraph, AssetKey, AssetMaterialization, AssetSpec,
    CheckSeverity, ColumnSchema, LogLevel, Project, RunEvent, RunId,
};

/// What a finished step reports to the scheduler.
#[derive(Debug)]
pub(super) enum StepResult {
    /// The stored materialization stands; changed or new checks were evaluated on it.
    UpToDate {
        materialization: AssetMaterialization,
        /// A blocking Error check failed on it: (check, run that found the failure).
        blocking_failure: Option<(String, RunId)>,
        /// The first Error check evaluated in this run that failed.
        error_failure: Option<String>,
        /// An Error check that failed on it in an earlier run, with its current definition:
        /// (check, run that found it). The run fails for it, as that run did.
        stored_failure: Option<(String, RunId)>,
    },
    /// A checks-only step evaluated every check on the stored materialization.
    Checked {
        materialization: AssetMaterialization,
        /// The first Error check that failed.
        error_failure: Option<String>,
    },
    /// A checks-only step found nothing to check, for this reason.
    NothingToCheck(String),
    Materialized {
        materialization: AssetMaterialization,
        /// The first blocking Error check that failed.
        blocking_failure: Option<String>,
        /// The first Error check that failed.
        error_failure: Option<String>,
    },
}

/// What a step reads: the materializations of this run and of earlier runs, and the tables of
/// this run still in memory.
pub(super) struct Inputs<'a> {
    /// This run's materializations of the step's upstream assets.
    pub current: &'a BTreeMap<AssetKey, AssetMaterialization>,
    pub previous: &'a BTreeMap<AssetKey, &'a AssetMaterialization>,
    pub frames: &'a BTreeMap<AssetKey, DataFrame>,
    /// Stored check results on the materializations in `previous`.
    pub checks: &'a gate::StoredChecks<'a>,
}

/// One step of a run, with everything it reads.
pub(super) struct Step<'a> {
    pub plan: &'a RunPlan,
    pub io: &'a dyn IoManager,
    pub fetcher: &'a dyn SourceFetcher,
    pub graph: &'a AssetGraph,
    pub asset: &'a AssetSpec,
    pub partition: Option<&'a str>,
    pub inputs: Inputs<'a>,
    /// Too big to sit beside other steps: streamed straight into its Parquet file.
    pub heavy: bool,
}

/// What a step's thread does after the step is reported: profile its table.
pub(super) struct Deferred {
    /// The table in memory (a collected step), also handed to downstream steps.
    pub frame: Option<DataFrame>,
    /// The stored table, profiled when it is not in memory (a streamed step).
    stored: LazyFrame,
    /// A streamed step's profile, gathered while its table was written (else its file is read
    /// back for the profile).
    streamed: Option<Arc<profile::Streamed>>,
}

/// Where a step's table was stored, its size in bytes, the table when it was collected in
/// memory, and the profile gathered while it was streamed into its file.
type Stored = (
    String,
    u64,
    Option<DataFrame>,
    Option<Arc<profile::Streamed>>,
);

/// What a step's result is: its outcome for the scheduler, and the profile still to make.
pub(super) type StepDone = (StepResult, Option<Deferred>);

/// An asset's lazy frame, its input versions and the time of its newest input.
type AssetFrame = (LazyFrame, BTreeMap<String, String>, Option<SystemTime>);

/// The first failed Error check and the first failed blocking one, of the checks evaluated.
#[derive(Default)]
struct Failures {
    error: Option<String>,
    blocking: Option<String>,
}

impl Failures {
    fn note(&mut self, name: &str, result: &AssetCheckResult) {
        if !result.passed && result.severity == CheckSeverity::Error {
            self.error.get_or_insert_with(|| name.to_owned());
            if result.blocking {
                self.blocking.get_or_insert_with(|| name.to_owned());
            }
        }
    }
}

impl Step<'_> {
    /// Runs the step: computes the asset, stores it, evaluates its checks. Its profile is left
    /// to the caller ([`Deferred`]), so downstream steps need not wait for it.
    pub(super) fn run(&self, emit: &mut dyn FnMut(RunEvent)) -> Result<StepDone, EngineError> {
        let asset = self.asset;
        if self.plan.checks_only {
            return self.check_stored(emit);
        }
        if asset.partitions.is_partitioned() && self.partition.is_none() {
            return Err(EngineError::Partitioned {
                asset: asset.key.clone(),
            });
        }
        let (lf, input_versions, newest_input) = self.frame()?;
        let definition_hash = definition_hash(asset);
        let data_version = data_version(
            &definition_hash,
            asset,
            &input_versions,
            self.plan.masking.plan.output(&asset.key),
        );
        if !self.plan.force
            && let Some(prev) = self.inputs.previous.get(&asset.key)
            && prev.data_version == data_version
            && prev.partition.as_deref() == self.partition
            && self.io.exists(&prev.location)
        {
            return self.up_to_date(prev, emit);
        }
        let materialization = AssetMaterialization {
            asset: asset.key.clone(),
            partition: self.partition.map(str::to_owned),
            run_id: self.plan.run_id.clone(),
            location: String::new(),
            row_count: 0,
            byte_count: 0,
            schema: Vec::new(),
            definition_hash,
            code_version: asset.code_version.clone(),
            input_versions,
            data_version,
            created_at: now(),
        };
        self.materialize(lf, materialization, newest_input, emit)
    }

    /// The frame of the asset plus its input versions, computed from its source or from the
    /// stored (or just written) materializations of its upstream assets.
    fn frame(&self) -> Result<AssetFrame, EngineError> {
        let (asset, partition) = (self.asset, self.partition);
        let key = &asset.key;
        let project_dir = &self.plan.project_dir;
        match &asset.definition {
            AssetDefinition::Source(s) => {
                let (lf, version) = read_source(
                    &self.plan.project,
                    key,
                    s,
                    project_dir,
                    partition,
                    None,
                    self.fetcher,
                )?;
                let newest = match s {
                    crate::model::SourceSpec::File { path, .. } => {
                        let full = source::resolve_path(project_dir, path, partition);
                        source::matching_files(key, &full).ok().and_then(|files| {
                            files
                                .iter()
                                .filter_map(|f| {
                                    std::fs::metadata(f).and_then(|m| m.modified()).ok()
                                })
                                .max()
                        })
                    }
                    _ => None,
                };
                Ok((
                    lf,
                    BTreeMap::from([(format!("source:{}", s.kind_label()), version)]),
                    newest,
                ))
            }
            AssetDefinition::Transform(t) => {
                let mut frames = BTreeMap::new();
                let mut versions = BTreeMap::new();
                for up in self.graph.upstream(key) {
                    let m = self
                        .upstream(up)
                        .ok_or_else(|| EngineError::MissingUpstream {
                            asset: key.clone(),
                            upstream: up.clone(),
                        })?;
                    // Written by this run and still in memory: no need to read the file back.
                    let lf = match self.inputs.frames.get(up) {
                        Some(df) => df.clone().lazy(),
                        None => self.io.scan(&m.location).map_err(|source| {
                            EngineError::ReadUpstream {
                                upstream: up.clone(),
                                location: m.location.clone(),
                                source,
                            }
                        })?,
                    };
                    frames.insert(up.clone(), lf);
                    versions.insert(up.to_string(), m.data_version.clone());
                }
                let lf = transform::apply(key, t, &frames, partition)?;
                Ok((lf, versions, Some(SystemTime::now())))
            }
        }
    }

    /// The materialization of an upstream asset this step reads: this run's, else the stored.
    fn upstream(&self, up: &AssetKey) -> Option<AssetMaterialization> {
        self.inputs
            .current
            .get(up)
            .cloned()
            .or_else(|| self.inputs.previous.get(up).map(|m| (*m).clone()))
    }

    /// Definition and inputs unchanged since `prev`: its stored data stands, and the checks
    /// with no result on it are evaluated there.
    fn up_to_date(
        &self,
        prev: &AssetMaterialization,
        emit: &mut dyn FnMut(RunEvent),
    ) -> Result<StepDone, EngineError> {
        let (key, partition) = (&self.asset.key, self.partition);
        let verdict = self.inputs.checks.verdict(self.asset, prev);
        let changed = verdict.unevaluated.len();
        emit(RunEvent::Log {
            level: LogLevel::Info,
            asset: Some(key.clone()),
            message: match changed {
                0 => format!(
                    "{key}: definition and inputs unchanged since run {}; up to date",
                    prev.run_id
                ),
                n => format!(
                    "{key}: definition and inputs unchanged since run {}; up to date; {n} new or changed check(s) run on its stored data",
                    prev.run_id
                ),
            },
        });
        if let Some((check, run_id)) = &verdict.failed_blocking {
            emit(RunEvent::Log {
                level: LogLevel::Warn,
                asset: Some(key.clone()),
                message: format!(
                    "{key}: its stored data failed blocking check {check} in run {run_id}; nothing downstream is built from it until it is materialized again and passes"
                ),
            });
        } else if let Some((check, run_id)) = &verdict.failed_error {
            emit(RunEvent::Log {
                level: LogLevel::Warn,
                asset: Some(key.clone()),
                message: format!(
                    "{key}: its stored data failed Error check {check} in run {run_id}; every run fails for it until it is materialized again and passes"
                ),
            });
        }
        let stored_failure = verdict.failed_error.clone();
        let mut blocking_failure = verdict.failed_blocking;
        let mut failures = Failures::default();
        if changed > 0 {
            // Stored data is checked with streaming queries, never whole in memory.
            let lf = self.scan_stored(prev)?;
            for c in verdict.unevaluated {
                // A freshness check on stored data measures the age of that data.
                let mut result =
                    check::evaluate_stored(key, partition, c, &lf, Some(created_time(prev)));
                result.materialization_run_id = Some(prev.run_id.clone());
                failures.note(&c.name, &result);
                emit(RunEvent::CheckEvaluation(result));
            }
        }
        if blocking_failure.is_none() {
            blocking_failure = failures
                .blocking
                .map(|check| (check, self.plan.run_id.clone()));
        }
        Ok((
            StepResult::UpToDate {
                materialization: prev.clone(),
                blocking_failure,
                error_failure: failures.error,
                stored_failure,
            },
            None,
        ))
    }

    /// A source's schema drift: its columns and types now against its last materialization's
    /// (the same partition), an error when its contract says so.
    fn drift(&self, now: &[ColumnSchema]) -> Option<SchemaDrift> {
        let asset = self.asset;
        asset.source()?;
        let prev = self.inputs.previous.get(&asset.key)?;
        if prev.partition.as_deref() != self.partition || prev.schema.is_empty() {
            return None;
        }
        let mut drift =
            SchemaDrift::between(&asset.key, self.partition, &prev.run_id, &prev.schema, now)?;
        drift.error = asset
            .contract
            .as_ref()
            .is_some_and(|c| c.on_drift == DriftPolicy::Error);
        Some(drift)
    }

    /// Computes the asset and stores it as `materialization` (its versions filled in, where
    /// and what it stored not yet), then evaluates its checks.
    fn materialize(
        &self,
        lf: LazyFrame,
        mut materialization: AssetMaterialization,
        newest_input: Option<SystemTime>,
        emit: &mut dyn FnMut(RunEvent),
    ) -> Result<StepDone, EngineError> {
        let (asset, partition) = (self.asset, self.partition);
        let key = &asset.key;
        let timer = Instant::now();
        // Rows with missing or extra fields and absent `schema` columns, which polars would
        // read silently wrong or name no line for: the file is checked on a thread of its own
        // while the step's query reads it, and the check's error comes first (what was stored
        // meanwhile is removed).
        let project_dir = &self.plan.project_dir;
        let (stored, verified) = std::thread::scope(|scope| {
            let verify = asset.source().map(|s| {
                scope
                    .spawn(move || source::verify_file_source(key, s, project_dir, partition, None))
            });
            let stored = self.store(lf, emit);
            let verified = verify.map_or(Ok(()), |h| {
                h.join().unwrap_or_else(|panic| {
                    Err(EngineError::Compute {
                        asset: key.clone(),
                        message: format!("internal error: {}", panic_message(panic.as_ref())),
                    })
                })
            });
            (stored, verified)
        });
        if let Err(e) = verified {
            if let Ok((location, ..)) = &stored {
                let _ = self.io.discard(location);
            }
            return Err(e);
        }
        let (location, byte_count, frame, streamed) = stored?;
        let stored_ms = timer.elapsed().as_millis();
        let (stored, schema, row_count) = self.stored_shape(&location, frame.as_ref())?;
        materialization.location = location;
        materialization.row_count = row_count;
        materialization.byte_count = byte_count;
        materialization.schema = schema_of(&schema);
        materialization.created_at = now();
        if let Some(drift) = self.drift(&materialization.schema) {
            emit(RunEvent::SchemaDrift(drift.clone()));
            if drift.error {
                // Never recorded, so removed now rather than left for gc.
                if let Err(e) = self.io.discard(&materialization.location) {
                    emit(RunEvent::Log {
                        level: LogLevel::Warn,
                        asset: Some(key.clone()),
                        message: format!(
                            "{key}: cannot remove {} after the schema drift error ({e}); gc will",
                            materialization.location
                        ),
                    });
                }
                return Err(EngineError::SchemaDrift {
                    asset: key.clone(),
                    since_run: drift.since_run.to_string(),
                    changes: drift.changes(),
                });
            }
        }
        emit(RunEvent::Materialization(materialization.clone()));
        let mut failures = Failures::default();
        // A streamed table is checked with lazy queries over its file, never whole in memory.
        for c in &asset.checks {
            let mut result = match &frame {
                Some(df) => check::evaluate(key, partition, c, df, newest_input),
                None => check::evaluate_stored(key, partition, c, &stored, newest_input),
            };
            result.materialization_run_id = Some(self.plan.run_id.clone());
            failures.note(&c.name, &result);
            emit(RunEvent::CheckEvaluation(result));
        }
        tracing::debug!(asset = %key, stored_ms, checked_ms = timer.elapsed().as_millis(), "step timings (cumulative)");
        Ok((
            StepResult::Materialized {
                materialization,
                blocking_failure: failures.blocking,
                error_failure: failures.error,
            },
            Some(Deferred {
                frame,
                stored,
                streamed,
            }),
        ))
    }

    /// Computes and stores the table: its location, size and (a collected step) the table.
    ///
    /// A step is collected in memory, stored, and its table handed to downstream steps and the
    /// profile. A step too big to sit beside other steps (above half the memory budget) runs
    /// through polars' streaming engine straight into its Parquet file instead, never whole in
    /// memory; its downstream steps read that file back.
    fn store(&self, lf: LazyFrame, emit: &mut dyn FnMut(RunEvent)) -> Result<Stored, EngineError> {
        let (asset, partition, run_id) = (self.asset, self.partition, &self.plan.run_id);
        let key = &asset.key;
        let failed = |e: PolarsError| {
            let text = e.to_string();
            EngineError::Compute {
                asset: key.clone(),
                message: super::explain::disk_full(&text).unwrap_or_else(|| {
                    source::describe_read_failure(
                        asset.source(),
                        &self.plan.project_dir,
                        partition,
                        &text,
                    )
                }),
            }
        };
        // A CSV file held in memory anyway is read whole by polars' eager reader, which takes
        // less CPU than the lazy scan (see `source::read_csv_whole`).
        let whole = (!self.heavy)
            .then(|| asset.source())
            .flatten()
            .and_then(|s| source::single_csv_file(key, s, &self.plan.project_dir, partition));
        let lf = match whole {
            Some((file, o)) => source::read_csv_whole(&file, o).map_err(failed)?,
            None => lf,
        };
        let masking = &self.plan.masking;
        let lf = masking
            .apply(lf, masking.plan.output(key))
            .map_err(|source| EngineError::Masking {
                asset: key.clone(),
                source,
            })?;
        let cannot_store = |source| EngineError::Store {
            asset: key.clone(),
            source,
        };
        if self.heavy {
            emit(RunEvent::Log {
                level: LogLevel::Info,
                asset: Some(key.clone()),
                message: format!(
                    "{key}: too big to hold in memory beside other steps; streamed straight into its Parquet file"
                ),
            });
            let lf = match &asset.definition {
                AssetDefinition::Transform(_) => transform::prepare_for_streaming(lf),
                AssetDefinition::Source(_) => lf,
            };
            // The profile watches the rows on their way into the file.
            let streamed = Arc::new(profile::Streamed::default());
            let lf = streamed.tap(lf);
            let (location, bytes) =
                self.io
                    .sink(key, partition, run_id, lf)
                    .map_err(|e| match e {
                        SinkError::Compute(e) => failed(e),
                        SinkError::Store(e) => cannot_store(e),
                    })?;
            Ok((location, bytes, None, Some(streamed)))
        } else {
            let lf = match &asset.definition {
                AssetDefinition::Transform(_) => transform::prepare_for_memory(lf),
                AssetDefinition::Source(_) => lf,
            };
            let mut df = lf.collect().map_err(failed)?;
            let (location, bytes) = self
                .io
                .write(key, partition, run_id, &mut df)
                .map_err(cannot_store)?;
            Ok((location, bytes, Some(df), None))
        }
    }

    /// The stored table (lazily), its schema and row count: from the table in memory, else
    /// read back from where it was stored.
    fn stored_shape(
        &self,
        location: &str,
        frame: Option<&DataFrame>,
    ) -> Result<(LazyFrame, Schema, u64), EngineError> {
        if let Some(df) = frame {
            return Ok((
                df.clone().lazy(),
                df.schema().as_ref().clone(),
                df.height() as u64,
            ));
        }
        let read_back = |source| EngineError::ReadBack {
            asset: self.asset.key.clone(),
            location: location.to_owned(),
            source,
        };
        let stored = self.io.scan(location).map_err(read_back)?;
        let schema = stored.clone().collect_schema().map_err(read_back)?;
        let rows = stored
            .clone()
            .select([len()])
            .collect()
            .map_err(read_back)?
            .column("len")
            .ok()
            .and_then(|c| c.get(0).ok())
            .and_then(|v| v.extract::<u64>())
            .unwrap_or(0);
        Ok((stored, schema.as_ref().clone(), rows))
    }

    /// A lazy frame over a stored materialization of this step's asset.
    fn scan_stored(&self, m: &AssetMaterialization) -> Result<LazyFrame, EngineError> {
        self.io
            .scan(&m.location)
            .map_err(|source| EngineError::ReadStored {
                asset: self.asset.key.clone(),
                location: m.location.clone(),
                source,
            })
    }

    /// A checks-only step: every check of the asset evaluated on its stored materialization.
    fn check_stored(&self, emit: &mut dyn FnMut(RunEvent)) -> Result<StepDone, EngineError> {
        let (asset, partition) = (self.asset, self.partition);
        let key = &asset.key;
        if asset.partitions.is_partitioned() && partition.is_none() {
            return Ok((
                StepResult::NothingToCheck(
                    "it is partitioned: choose a partition to check (--partition KEY)".to_owned(),
                ),
                None,
            ));
        }
        let Some(prev) = self
            .inputs
            .previous
            .get(key)
            .filter(|m| m.partition.as_deref() == partition && self.io.exists(&m.location))
        else {
            return Ok((
                StepResult::NothingToCheck("it has no materialization to check yet".to_owned()),
                None,
            ));
        };
        let mut failures = Failures::default();
        if !asset.checks.is_empty() {
            let lf = self.scan_stored(prev)?;
            for c in &asset.checks {
                let mut result =
                    check::evaluate_stored(key, partition, c, &lf, Some(created_time(prev)));
                result.materialization_run_id = Some(prev.run_id.clone());
                failures.note(&c.name, &result);
                emit(RunEvent::CheckEvaluation(result));
            }
        }
        Ok((
            StepResult::Checked {
                materialization: (*prev).clone(),
                error_failure: failures.error,
            },
            None,
        ))
    }
}

impl Deferred {
    /// Profiles the step's table and reports the profile (or, when profiling fails, a warning).
    pub(super) fn profile(
        self,
        key: &AssetKey,
        partition: Option<&str>,
        emit: &mut dyn FnMut(RunEvent),
    ) {
        let timer = Instant::now();
        let profiled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &self.frame {
                Some(df) => profile::profile(key, partition, df),
                None => {
                    // What was gathered while streaming, else (a batch it could not take) a
                    // read of the file.
                    let gathered = self.streamed.as_ref().and_then(|s| {
                        let schema = self.stored.clone().collect_schema().ok()?;
                        s.finish(key, partition, &schema)?.ok()
                    });
                    gathered
                        .map_or_else(|| profile::profile_stored(key, partition, self.stored), Ok)
                }
            }))
            .unwrap_or_else(|panic| {
                Err(polars_err!(ComputeError: "internal error: {}", panic_message(panic.as_ref())))
            });
        tracing::debug!(asset = %key, profiled_ms = timer.elapsed().as_millis(), "profile");
        match profiled {
            Ok(p) => emit(RunEvent::Profile(p)),
            Err(e) => emit(RunEvent::Log {
                level: LogLevel::Warn,
                asset: Some(key.clone()),
                message: format!("{key}: profiling failed: {e}"),
            }),
        }
    }
}

/// A source asset's frame and input version: files are scanned lazily, sources behind a
/// resource are fetched through `fetcher`.
pub(super) fn read_source(
    project: &Project,
    key: &AssetKey,
    source: &crate::model::SourceSpec,
    project_dir: &Path,
    partition: Option<&str>,
    limit: Option<usize>,
    fetcher: &dyn SourceFetcher,
) -> Result<(LazyFrame, String), EngineError> {
    let (lf, version) = match source {
        crate::model::SourceSpec::File { .. } => {
            source::read_file_source(key, source, project_dir, partition, limit)
        }
        _ => fetch::read_fetched_source(project, key, source, partition, limit, fetcher),
    }?;
    transform::refuse_reserved_columns(key, "its source", &lf)?;
    Ok((lf, version))
}

/// The message of a caught panic.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a step panicked".to_owned())
}

/// When a materialization was made.
fn created_time(m: &AssetMaterialization) -> SystemTime {
    SystemTime::from(m.created_at)
}

fn schema_of(schema: &Schema) -> Vec<ColumnSchema> {
    schema
        .iter()
        .map(|(n, t)| ColumnSchema {
            name: n.to_string(),
            dtype: t.to_string(),
        })
        .collect()
}

/// Now, to the millisecond a stored time keeps.
fn now() -> chrono::DateTime<chrono::Utc> {
    crate::model::time::millis(chrono::Utc::now())
}
