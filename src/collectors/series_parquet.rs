//! The metrics layout of snapshot format 2: a series is found by an integer, never by
//! comparing label strings row by row. File I/O (Parquet through polars).
//!
//! - `metrics/series.parquet`: one row per series: `series` (id, the row's position),
//!   `metric`, `axis` (id of its time axis), `offset` and `len` (its values' rows in the
//!   metric's values file), then one column per label name (null where a series lacks it;
//!   a label named like one of these columns is stored as `label_<name>`);
//! - `metrics/axes.parquet`: the distinct time axes, `axis` and `timestamp` (Unix ms), rows
//!   grouped by axis in time order: series sampled on the same grid share one;
//! - `metrics/values/<metric>.parquet`: one column `value`, the series of that metric one
//!   after another in series order.
//!
//! Reading decodes each axis once and hands every series its shared axis; only the metrics
//! asked for are read.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::error::{CollectError, Result};
use crate::model::series::{Labels, MetricStore};

/// The series table.
pub const SERIES_FILE: &str = "series.parquet";
/// The axes table.
pub const AXES_FILE: &str = "axes.parquet";
/// The folder of per-metric values.
pub const VALUES_DIR: &str = "values";

const SERIES_COLUMNS: [&str; 5] = ["series", "metric", "axis", "offset", "len"];
/// Rows per row group (and per read) of the large files.
const BATCH_ROWS: usize = 1 << 20;

fn label_column(name: &str) -> String {
    if SERIES_COLUMNS.contains(&name) || name.starts_with("label_") {
        format!("label_{name}")
    } else {
        name.to_string()
    }
}

fn label_name(column: &str) -> &str {
    column.strip_prefix("label_").unwrap_or(column)
}

/// A metric's values file: `<metric>.parquet` for a Prometheus-style name
/// (`[A-Za-z0-9_:]`); any other name has those characters replaced by `_` and a hash of
/// the name appended, so that two names never share a file.
pub fn values_file(metric: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    if !metric.is_empty() && metric.chars().all(plain) {
        return format!("{metric}.parquet");
    }
    let safe: String = metric.chars().map(|c| if plain(c) { c } else { '_' }).collect();
    // FNV-1a: stable across versions and platforms, unlike the std hasher.
    let hash = metric
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{safe}-{hash:016x}.parquet")
}

fn io_err(e: std::io::Error) -> PolarsError {
    PolarsError::IO { error: Arc::new(e), msg: None }
}

/// Writes the store in the format-2 layout under `dir` (the snapshot's `metrics/`).
///
/// # Errors
/// A file cannot be created or written; the error names it.
pub fn write_metrics(store: &MetricStore, dir: &Path) -> Result<()> {
    let values_dir = dir.join(VALUES_DIR);
    std::fs::create_dir_all(&values_dir)
        .map_err(|source| CollectError::Io { path: values_dir.clone(), source })?;
    // Axes by identity: series that share an `Arc` share an id.
    let mut axis_ids: HashMap<*const i64, u32> = HashMap::new();
    let mut axes: Vec<&[i64]> = Vec::new();
    let names = store.metric_names();
    let mut rows = SeriesRows::default();
    for metric in &names {
        let mut offset = 0u64;
        // A pod's series next to each other, and the pods of a workload mostly so: readers
        // that take a metric in parts of whole pods or workloads ([`PartPlan`]) then get
        // many small parts instead of one (the order of a store is the order of collection).
        let mut series: Vec<&crate::model::series::Series> = store.metric(metric).collect();
        series.sort_by(|a, b| {
            (a.labels.get("namespace"), a.labels.get("pod"))
                .cmp(&(b.labels.get("namespace"), b.labels.get("pod")))
        });
        for s in &series {
            let next = u32::try_from(axes.len()).unwrap_or(u32::MAX);
            let id = *axis_ids.entry(s.timestamps.as_ptr()).or_insert_with(|| {
                axes.push(&s.timestamps);
                next
            });
            rows.push(metric, id, offset, s.len(), &s.labels);
            offset += s.len() as u64;
        }
        let path = values_dir.join(values_file(metric));
        write_values(&series, &path).map_err(|e| CollectError::Parquet { path, reason: e.to_string() })?;
    }
    let path = dir.join(SERIES_FILE);
    rows.write(&path).map_err(|e| CollectError::Parquet { path: path.clone(), reason: e.to_string() })?;
    let path = dir.join(AXES_FILE);
    write_axes(&axes, &path).map_err(|e| CollectError::Parquet { path: path.clone(), reason: e.to_string() })
}

#[derive(Default)]
struct SeriesRows<'a> {
    metric: Vec<&'a str>,
    axis: Vec<u32>,
    offset: Vec<u64>,
    len: Vec<u32>,
    labels: Vec<&'a Labels>,
}

impl<'a> SeriesRows<'a> {
    fn push(&mut self, metric: &'a str, axis: u32, offset: u64, len: usize, labels: &'a Labels) {
        self.metric.push(metric);
        self.axis.push(axis);
        self.offset.push(offset);
        self.len.push(u32::try_from(len).unwrap_or(u32::MAX));
        self.labels.push(labels);
    }

    fn write(self, path: &Path) -> PolarsResult<()> {
        let height = self.metric.len();
        let mut names: Vec<&str> = self.labels.iter().flat_map(|l| l.iter().map(|(k, _)| k)).collect();
        names.sort_unstable();
        names.dedup();
        let ids: Vec<u32> = (0..u32::try_from(height).unwrap_or(u32::MAX)).collect();
        let mut cols = vec![
            Column::new("series".into(), ids),
            Column::new("metric".into(), self.metric),
            Column::new("axis".into(), self.axis),
            Column::new("offset".into(), self.offset),
            Column::new("len".into(), self.len),
        ];
        for n in &names {
            let values: Vec<Option<&str>> = self.labels.iter().map(|l| l.get(n)).collect();
            cols.push(Column::new(label_column(n).into(), values));
        }
        let mut df = DataFrame::new(height, cols)?;
        ParquetWriter::new(File::create(path).map_err(io_err)?)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut df)?;
        Ok(())
    }
}

fn write_axes(axes: &[&[i64]], path: &Path) -> PolarsResult<()> {
    let schema = Schema::from_iter([
        Field::new("axis".into(), DataType::UInt32),
        Field::new("timestamp".into(), DataType::Int64),
    ]);
    let mut writer = ParquetWriter::new(File::create(path).map_err(io_err)?)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(BATCH_ROWS))
        .batched(&schema)?;
    let (mut ids, mut ts): (Vec<u32>, Vec<i64>) = (Vec::new(), Vec::new());
    for (id, axis) in axes.iter().enumerate() {
        ids.extend(std::iter::repeat_n(u32::try_from(id).unwrap_or(u32::MAX), axis.len()));
        ts.extend_from_slice(axis);
        if ts.len() >= BATCH_ROWS {
            let n = ts.len();
            let df = DataFrame::new(
                n,
                vec![
                    Column::new("axis".into(), std::mem::take(&mut ids)),
                    Column::new("timestamp".into(), std::mem::take(&mut ts)),
                ],
            )?;
            writer.write_batch(&df)?;
        }
    }
    let n = ts.len();
    let df = DataFrame::new(n, vec![Column::new("axis".into(), ids), Column::new("timestamp".into(), ts)])?;
    writer.write_batch(&df)?;
    writer.finish()?;
    Ok(())
}

fn write_values(series: &[&crate::model::series::Series], path: &Path) -> PolarsResult<()> {
    let schema = Schema::from_iter([Field::new("value".into(), DataType::Float64)]);
    // LZ4: float samples (counters above all) barely compress, and LZ4 decompresses several
    // times faster than zstd: loading is what a snapshot is for.
    let mut writer = ParquetWriter::new(File::create(path).map_err(io_err)?)
        .with_compression(ParquetCompression::Lz4Raw)
        .with_row_group_size(Some(BATCH_ROWS))
        .batched(&schema)?;
    let mut batch: Vec<f64> = Vec::with_capacity(BATCH_ROWS);
    for s in series {
        batch.extend_from_slice(&s.values);
        if batch.len() >= BATCH_ROWS {
            let v = std::mem::take(&mut batch);
            writer.write_batch(&DataFrame::new(v.len(), vec![Column::new("value".into(), v)])?)?;
        }
    }
    writer.write_batch(&DataFrame::new(batch.len(), vec![Column::new("value".into(), batch)])?)?;
    writer.finish()?;
    Ok(())
}

/// One row of the series table.
struct SeriesRow {
    metric: String,
    axis: u32,
    offset: u64,
    len: usize,
    labels: Labels,
}

/// True when `dir` (a snapshot's `metrics/`) holds the format-2 tables.
pub fn is_layout(dir: &Path) -> bool {
    dir.join(SERIES_FILE).is_file() && dir.join(AXES_FILE).is_file()
}

/// Reads the series of the metrics in `only` (all when `None`), of one namespace or all,
/// into `store`, in the order they were written. The values files are read on `threads`
/// threads. Every file is opened under the snapshot directory's rules
/// ([`super::files::open_inside`] `root`: no link leaving it, no FIFO or device).
///
/// # Errors
/// A missing or malformed table or values file, a file leading outside `root` or not a
/// regular file, a series pointing outside its values or at an unknown axis; the error
/// names the file.
pub fn read_metrics(
    root: &Path,
    dir: &Path,
    only: Option<&BTreeSet<String>>,
    namespace: Option<&str>,
    threads: usize,
    store: &mut MetricStore,
) -> Result<()> {
    let series_path = dir.join(SERIES_FILE);
    let rows = read_series(root, &series_path)?;
    let wanted: Vec<&SeriesRow> = rows
        .iter()
        .filter(|r| only.is_none_or(|o| o.contains(&r.metric)))
        .filter(|r| namespace.is_none_or(|ns| r.labels.get("namespace") == Some(ns)))
        .collect();
    let axes_path = dir.join(AXES_FILE);
    let needed_axes: BTreeSet<u32> = wanted.iter().map(|r| r.axis).collect();
    let axes = read_axes(root, &axes_path, &needed_axes)?;
    // Per metric: its values, read in parallel.
    let mut metrics: Vec<&str> = wanted.iter().map(|r| r.metric.as_str()).collect();
    metrics.sort_unstable();
    metrics.dedup();
    let values_dir = dir.join(VALUES_DIR);
    let read: Vec<(String, Result<Vec<Vec<f64>>>)> = std::thread::scope(|scope| {
        let mut out = Vec::new();
        for chunk in metrics.chunks(threads.max(1)) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|m| {
                    let path = values_dir.join(values_file(m));
                    let of_metric: Vec<&SeriesRow> =
                        wanted.iter().copied().filter(|r| r.metric == *m).collect();
                    scope.spawn(move || read_values(root, &path, &of_metric))
                })
                .collect();
            for (h, m) in handles.into_iter().zip(chunk) {
                let r = h.join().unwrap_or_else(|_| {
                    Err(CollectError::Parquet {
                        path: values_dir.join(values_file(m)),
                        reason: "reader thread panicked".into(),
                    })
                });
                out.push(((*m).to_string(), r));
            }
        }
        out
    });
    let mut by_metric: HashMap<String, std::vec::IntoIter<Vec<f64>>> = HashMap::new();
    for (m, r) in read {
        by_metric.insert(m, r?.into_iter());
    }
    for row in wanted {
        let values = by_metric.get_mut(&row.metric).and_then(Iterator::next).unwrap_or_default();
        // An empty series' axis has no rows in the axes table.
        let empty = (row.len == 0).then(|| Arc::<[i64]>::from(Vec::new()));
        let axis = axes.get(&row.axis).cloned().or(empty).ok_or_else(|| CollectError::Parquet {
            path: axes_path.clone(),
            reason: format!("axis {} of a {} series is not in the file", row.axis, row.metric),
        })?;
        store
            .push_shared(row.metric.clone(), row.labels.clone(), axis, values)
            .map_err(|e| CollectError::Parquet { path: series_path.clone(), reason: e.to_string() })?;
    }
    Ok(())
}

fn parquet_err(path: &Path) -> impl Fn(String) -> CollectError + '_ {
    move |reason| CollectError::Parquet { path: path.to_path_buf(), reason }
}

fn open(root: &Path, path: &Path) -> Result<File> {
    super::files::open_inside(root, path)
}

fn read_series(root: &Path, path: &Path) -> Result<Vec<SeriesRow>> {
    let err = parquet_err(path);
    let df = ParquetReader::new(open(root, path)?).finish().map_err(|e| err(e.to_string()))?;
    let col = |name: &str| df.column(name).map_err(|_| err(format!("missing column `{name}`")));
    let int = |name: &str| -> Result<Vec<u64>> {
        let c = col(name)?.cast(&DataType::UInt64).map_err(|e| err(format!("column `{name}`: {e}")))?;
        let c = c.u64().map_err(|e| err(format!("column `{name}`: {e}")))?;
        c.iter().map(|v| v.ok_or_else(|| err(format!("column `{name}` has a null")))).collect()
    };
    let metric = col("metric")?.str().map_err(|e| err(format!("column `metric`: {e}")))?.clone();
    let (axis, offset, len) = (int("axis")?, int("offset")?, int("len")?);
    let label_cols: Vec<(String, StringChunked)> = df
        .columns()
        .iter()
        .filter(|c| !SERIES_COLUMNS.contains(&c.name().as_str()))
        .map(|c| {
            Ok((
                label_name(c.name()).to_string(),
                c.str().map_err(|e| err(format!("column `{}`: {e}", c.name())))?.clone(),
            ))
        })
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let m = metric.get(i).ok_or_else(|| err("column `metric` has a null".into()))?;
        let labels = Labels::new(label_cols.iter().filter_map(|(n, c)| c.get(i).map(|v| (n.as_str(), v))));
        out.push(SeriesRow {
            metric: m.to_string(),
            axis: u32::try_from(axis[i]).map_err(|e| err(format!("column `axis`: {e}")))?,
            offset: offset[i],
            len: usize::try_from(len[i]).map_err(|e| err(format!("column `len`: {e}")))?,
            labels,
        });
    }
    Ok(out)
}

/// The axes in `wanted`, each decoded once.
fn read_axes(root: &Path, path: &Path, wanted: &BTreeSet<u32>) -> Result<HashMap<u32, Arc<[i64]>>> {
    let err = parquet_err(path);
    let mut reader = ParquetReader::new(open(root, path)?);
    let total = reader.num_rows().map_err(|e| err(e.to_string()))?;
    let mut out: HashMap<u32, Arc<[i64]>> = HashMap::new();
    let mut current: Option<(u32, Vec<i64>)> = None;
    let mut offset = 0;
    let finish = |cur: Option<(u32, Vec<i64>)>, out: &mut HashMap<u32, Arc<[i64]>>| -> Result<()> {
        if let Some((id, ts)) = cur {
            if let Some(w) = ts.windows(2).position(|w| w[1] <= w[0]) {
                return Err(err(format!("axis {id}: timestamp {} is not after the one before it", w + 1)));
            }
            out.insert(id, ts.into());
        }
        Ok(())
    };
    while offset < total {
        let n = BATCH_ROWS.min(total - offset);
        let df = ParquetReader::new(open(root, path)?)
            .with_slice(Some((offset, n)))
            .finish()
            .map_err(|e| err(e.to_string()))?;
        offset += n;
        let ids = df.column("axis").map_err(|_| err("missing column `axis`".into()))?;
        let ids = ids.u32().map_err(|e| err(format!("column `axis`: {e}")))?.rechunk();
        let ts = df.column("timestamp").map_err(|_| err("missing column `timestamp`".into()))?;
        let ts = ts.i64().map_err(|e| err(format!("column `timestamp`: {e}")))?.rechunk();
        let (Ok(ids), Ok(ts)) = (ids.cont_slice(), ts.cont_slice()) else {
            return Err(err("columns `axis` and `timestamp` must not hold nulls".into()));
        };
        let mut start = 0;
        while start < ids.len() {
            let id = ids[start];
            let end = start + ids[start..].iter().position(|&x| x != id).unwrap_or(ids.len() - start);
            if wanted.contains(&id) {
                match &mut current {
                    Some((cid, buf)) if *cid == id => buf.extend_from_slice(&ts[start..end]),
                    _ => {
                        finish(current.take(), &mut out)?;
                        current = Some((id, ts[start..end].to_vec()));
                    }
                }
            }
            start = end;
        }
    }
    finish(current, &mut out)?;
    Ok(out)
}

/// Rows `start..start + n` of a values file's `value` column, left in the chunks the decoder
/// made; an error when the column is missing, not floats, or holds nulls.
fn value_batch(root: &Path, path: &Path, start: usize, n: usize) -> Result<Float64Chunked> {
    let err = parquet_err(path);
    let df = ParquetReader::new(open(root, path)?)
        .with_slice(Some((start, n)))
        .finish()
        .map_err(|e| err(e.to_string()))?;
    let col = df.column("value").map_err(|_| err("missing column `value`".into()))?;
    let col = col.f64().map_err(|e| err(format!("column `value`: {e}")))?.clone();
    if col.null_count() > 0 {
        return Err(err("column `value` must not hold nulls".into()));
    }
    Ok(col)
}

/// The values of `rows` (one metric's series, in file order) from its values file.
fn read_values(root: &Path, path: &Path, rows: &[&SeriesRow]) -> Result<Vec<Vec<f64>>> {
    let err = parquet_err(path);
    let mut reader = ParquetReader::new(open(root, path)?);
    let total = reader.num_rows().map_err(|e| err(e.to_string()))?;
    let mut out: Vec<Vec<f64>> = rows.iter().map(|r| Vec::with_capacity(r.len)).collect();
    // Rows sorted by offset: walk the file once in batches.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i].offset);
    let mut next = 0usize;
    let mut batch_start = 0usize;
    while batch_start < total && next < order.len() {
        let n = BATCH_ROWS.min(total - batch_start);
        let col = value_batch(root, path, batch_start, n)?;
        let col = col.rechunk();
        let values = col.cont_slice().map_err(|_| err("column `value` must not hold nulls".into()))?;
        let batch_end = batch_start + n;
        // Every series overlapping this batch takes its part.
        let mut k = next;
        while k < order.len() {
            let r = rows[order[k]];
            let (a, b) = (
                usize::try_from(r.offset).unwrap_or(usize::MAX),
                usize::try_from(r.offset).unwrap_or(usize::MAX).saturating_add(r.len),
            );
            if a >= batch_end {
                break;
            }
            let from = a.max(batch_start);
            let to = b.min(batch_end);
            if from < to {
                out[order[k]].extend_from_slice(&values[from - batch_start..to - batch_start]);
            }
            k += 1;
        }
        // Series finished in this batch are done.
        while next < order.len()
            && usize::try_from(rows[order[next]].offset)
                .unwrap_or(usize::MAX)
                .saturating_add(rows[order[next]].len)
                <= batch_end
        {
            next += 1;
        }
        batch_start = batch_end;
    }
    for (r, v) in rows.iter().zip(&out) {
        if v.len() != r.len {
            return Err(err(format!(
                "a {} series needs rows {}..{} but the file has {total}",
                r.metric,
                r.offset,
                r.offset as usize + r.len
            )));
        }
    }
    Ok(out)
}

/// One metric's series (of one namespace, or all) to be read in parts (see
/// [`PartPlan::read`]): only a few parts' samples are in memory at a time instead of the
/// whole metric.
pub struct PartPlan {
    root: std::path::PathBuf,
    values_path: std::path::PathBuf,
    series_path: std::path::PathBuf,
    /// The series read, in file order, with their groups.
    wanted: Vec<(SeriesRow, u64)>,
    axis_of: Vec<Arc<[i64]>>,
    /// Where each part ends (exclusive indexes into `wanted`).
    ends: Vec<usize>,
    /// Rows decoded at a time.
    batch_rows: usize,
}

impl PartPlan {
    /// Plans the parts of `metric`: `group_of` names the group of a series from its labels
    /// (`None`: the series is not wanted and is not read). A part never splits a group:
    /// every series of a group is in the same part, whatever the file's order (in the worst
    /// case, one part holds everything). A part is closed at the first group boundary after
    /// `part_samples` samples.
    ///
    /// # Errors
    /// A missing or malformed series or axes table; the error names the file.
    pub fn new(
        root: &Path,
        dir: &Path,
        metric: &str,
        namespace: Option<&str>,
        mut group_of: impl FnMut(&Labels) -> Option<u64>,
        part_samples: usize,
    ) -> Result<PartPlan> {
        let series_path = dir.join(SERIES_FILE);
        let rows = read_series(root, &series_path)?;
        let mut wanted: Vec<(SeriesRow, u64)> = rows
            .into_iter()
            .filter(|r| r.metric == metric)
            .filter(|r| namespace.is_none_or(|ns| r.labels.get("namespace") == Some(ns)))
            .filter_map(|r| group_of(&r.labels).map(|g| (r, g)))
            .collect();
        wanted.sort_by_key(|(r, _)| r.offset);
        let axes_path = dir.join(AXES_FILE);
        let needed_axes: BTreeSet<u32> = wanted.iter().map(|(r, _)| r.axis).collect();
        let axes = read_axes(root, &axes_path, &needed_axes)?;
        let mut axis_of = Vec::with_capacity(wanted.len());
        for (r, _) in &wanted {
            // An empty series' axis has no rows in the axes table.
            let empty = (r.len == 0).then(|| Arc::<[i64]>::from(Vec::new()));
            axis_of.push(axes.get(&r.axis).cloned().or(empty).ok_or_else(|| CollectError::Parquet {
                path: axes_path.clone(),
                reason: format!("axis {} of a {} series is not in the file", r.axis, r.metric),
            })?);
        }
        let ends = part_ends(&wanted, part_samples);
        Ok(PartPlan {
            root: root.to_path_buf(),
            values_path: dir.join(VALUES_DIR).join(values_file(metric)),
            series_path,
            wanted,
            axis_of,
            ends,
            batch_rows: BATCH_ROWS,
        })
    }

    /// How many series the plan reads.
    #[must_use]
    pub fn series(&self) -> usize {
        self.wanted.len()
    }

    /// Reads the parts in file order, handing each to `on_part` as soon as it is complete.
    /// The values are decoded on a thread of their own while `on_part` runs.
    ///
    /// # Errors
    /// A missing or malformed values file, a series pointing outside it; parts handed over
    /// before the error stay handed over.
    pub fn read(self, mut on_part: impl FnMut(MetricStore)) -> Result<()> {
        let PartPlan { root, values_path, series_path, wanted, axis_of, ends, batch_rows } = self;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<MetricStore>>(1);
        std::thread::scope(|scope| {
            let (wanted, axis_of, ends) = (&wanted, &axis_of, &ends);
            let (root, values_path, series_path) = (&root, &values_path, &series_path);
            scope.spawn(move || {
                let mut part = MetricStore::new();
                let mut next_end = ends.iter().copied().peekable();
                let r = stream_values(root, values_path, wanted, batch_rows, |i, values| {
                    let (row, _) = &wanted[i];
                    part.push_shared(row.metric.clone(), row.labels.clone(), axis_of[i].clone(), values)
                        .map_err(|e| CollectError::Parquet {
                            path: series_path.clone(),
                            reason: e.to_string(),
                        })?;
                    if next_end.peek() == Some(&(i + 1)) {
                        next_end.next();
                        // The receiver gone means the caller stopped: read no further.
                        tx.send(Ok(std::mem::take(&mut part))).map_err(|_| CollectError::Parquet {
                            path: series_path.clone(),
                            reason: "the reader of the parts stopped".into(),
                        })?;
                    }
                    Ok(())
                });
                if let Err(e) = r {
                    let _ = tx.send(Err(e));
                }
            });
            for part in rx {
                on_part(part?);
            }
            Ok(())
        })
    }
}

/// The ends (exclusive indexes into `rows`, in file order) of the parts: a part closes after
/// a series once every group seen so far has no series left and it holds `part_samples`
/// samples or more; the last part ends at the last series.
fn part_ends(rows: &[(SeriesRow, u64)], part_samples: usize) -> Vec<usize> {
    let mut last: HashMap<u64, usize> = HashMap::new();
    for (i, (_, g)) in rows.iter().enumerate() {
        last.insert(*g, i);
    }
    let mut ends = Vec::new();
    let (mut reach, mut samples) = (0usize, 0usize);
    for (i, (r, g)) in rows.iter().enumerate() {
        reach = reach.max(last[g]);
        samples += r.len;
        if reach == i && (samples >= part_samples || i + 1 == rows.len()) {
            ends.push(i + 1);
            samples = 0;
        }
    }
    ends
}

/// Walks a values file once, in batches, and hands each series of `rows` (sorted by offset)
/// its values as soon as its last row is decoded; batches no series needs are not decoded.
fn stream_values(
    root: &Path,
    path: &Path,
    rows: &[(SeriesRow, u64)],
    batch_rows: usize,
    mut each: impl FnMut(usize, Vec<f64>) -> Result<()>,
) -> Result<()> {
    let err = parquet_err(path);
    let mut reader = ParquetReader::new(open(root, path)?);
    let total = reader.num_rows().map_err(|e| err(e.to_string()))?;
    let span = |r: &SeriesRow| {
        let a = usize::try_from(r.offset).unwrap_or(usize::MAX);
        (a, a.saturating_add(r.len))
    };
    if let Some((r, _)) = rows.iter().find(|(r, _)| span(r).1 > total) {
        return Err(err(format!(
            "a {} series needs rows {}..{} but the file has {total}",
            r.metric,
            r.offset,
            r.offset as usize + r.len
        )));
    }
    // Series in offset order; `buf` holds the values of series `i` read so far, and the
    // decoded batch stays until a series needs rows outside it.
    // The decoded batch: its first row and its column, left in the chunks the decoder made
    // (one per page: joining them would copy every value once more).
    let mut batch: Option<(usize, Float64Chunked)> = None;
    let mut buf: Vec<f64> = Vec::new();
    let mut i = 0usize;
    while i < rows.len() {
        let (a, b) = span(&rows[i].0);
        let at = a + buf.len();
        if at >= b {
            each(i, std::mem::take(&mut buf))?;
            i += 1;
            continue;
        }
        if batch.as_ref().is_none_or(|(s, col)| at < *s || at >= s + col.len()) {
            let batch_start = at / batch_rows * batch_rows;
            let n = batch_rows.min(total - batch_start);
            let col = value_batch(root, path, batch_start, n)?;
            if at >= batch_start + col.len() {
                return Err(err(format!(
                    "the file ends at row {} inside a {} series",
                    batch_start + col.len(),
                    rows[i].0.metric
                )));
            }
            batch = Some((batch_start, col));
        }
        let Some((batch_start, col)) = &batch else { break };
        // The chunk holding row `at`.
        let mut first = *batch_start;
        let mut values: &[f64] = &[];
        for arr in col.downcast_iter() {
            if at < first + arr.len() {
                values = arr.values().as_slice();
                break;
            }
            first += arr.len();
        }
        let to = b.min(first + values.len());
        if to <= at {
            return Err(err(format!("row {at} is missing from the decoded column")));
        }
        if buf.capacity() == 0 {
            buf.reserve_exact(rows[i].0.len);
        }
        buf.extend_from_slice(&values[at - first..to - first]);
    }
    Ok(())
}

/// True for the files of this layout (the long-format reader leaves them alone).
pub fn is_own_file(metrics_dir: &Path, file: &Path) -> bool {
    file == metrics_dir.join(SERIES_FILE)
        || file == metrics_dir.join(AXES_FILE)
        || file.parent() == Some(metrics_dir.join(VALUES_DIR).as_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> MetricStore {
        let mut s = MetricStore::new();
        let grid = vec![1000, 2000, 3000];
        s.push("m", Labels::new([("namespace", "a"), ("pod", "p1")]), grid.clone(), vec![0.1, f64::NAN, 3.5])
            .unwrap();
        s.push(
            "m",
            Labels::new([("namespace", "b"), ("pod", "p2"), ("len", "x")]),
            grid.clone(),
            vec![1e-300, -2.0, 7.0],
        )
        .unwrap();
        s.push("m", Labels::new([("namespace", "a"), ("pod", "p3")]), vec![5], vec![f64::INFINITY]).unwrap();
        s.push("other:x", Labels::new([("namespace", "a"), ("le", "+Inf")]), grid, vec![1.0, 2.0, 3.0])
            .unwrap();
        s
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn round_trip_keeps_every_sample_and_shares_axes() {
        let dir = tempfile::tempdir().unwrap();
        let original = store();
        write_metrics(&original, dir.path()).unwrap();
        assert!(is_layout(dir.path()));
        assert!(dir.path().join(VALUES_DIR).join("other:x.parquet").is_file());
        let mut back = MetricStore::new();
        read_metrics(dir.path(), dir.path(), None, None, 2, &mut back).unwrap();
        assert_eq!(back.len(), original.len());
        // Within a metric the series are written by namespace and pod (a pod's series next
        // to each other, see `write_metrics`): m's are a/p1, a/p3, b/p2.
        let pods: Vec<&str> = back.metric("m").filter_map(|s| s.labels.get("pod")).collect();
        assert_eq!(pods, ["p1", "p3", "p2"]);
        for b in back.all() {
            let a = original.all().iter().find(|a| a.metric == b.metric && a.labels == b.labels).unwrap();
            assert_eq!((&a.metric, &a.labels, &a.timestamps), (&b.metric, &b.labels, &b.timestamps));
            assert_eq!(bits(&a.values), bits(&b.values));
        }
        // One axis decoded once: the three series on the same grid share it.
        let on_grid: Vec<&crate::model::series::Series> =
            back.all().iter().filter(|s| s.len() == 3).collect();
        assert_eq!(on_grid.len(), 3);
        assert!(on_grid.windows(2).all(|w| Arc::ptr_eq(&w[0].timestamps, &w[1].timestamps)));
    }

    #[test]
    fn only_the_metrics_and_namespace_asked_for_are_read() {
        let dir = tempfile::tempdir().unwrap();
        write_metrics(&store(), dir.path()).unwrap();
        let only: BTreeSet<String> = ["m".to_string()].into();
        let mut part = MetricStore::new();
        read_metrics(dir.path(), dir.path(), Some(&only), Some("a"), 1, &mut part).unwrap();
        let pods: Vec<&str> = part.all().iter().filter_map(|s| s.labels.get("pod")).collect();
        assert_eq!(pods, ["p1", "p3"]);
        assert_eq!(part.metric_names(), ["m"]);
        // A values file that is not asked for is not opened: removing it changes nothing.
        std::fs::remove_file(dir.path().join(VALUES_DIR).join("other:x.parquet")).unwrap();
        let mut again = MetricStore::new();
        read_metrics(dir.path(), dir.path(), Some(&only), None, 1, &mut again).unwrap();
        assert_eq!(again.len(), 3);
        let err = read_metrics(dir.path(), dir.path(), None, None, 1, &mut MetricStore::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("other:x.parquet"), "{err}");
    }

    /// A store of 12 series of metric `m` in 5 groups (label `g`), partly interleaved in
    /// file order, one group (`x`) not wanted; lengths 1..=5 and one empty series.
    fn grouped_store() -> MetricStore {
        let mut s = MetricStore::new();
        let groups = ["a", "b", "a", "b", "c", "c", "d", "d", "x", "d", "e", "e"];
        for (i, g) in groups.iter().enumerate() {
            let n = if i == 7 { 0 } else { i % 5 + 1 };
            let ts: Vec<i64> = (0..n as i64).map(|k| 1000 * (k + 1)).collect();
            let vs: Vec<f64> = (0..n).map(|k| (i * 100 + k) as f64).collect();
            s.push("m", Labels::new([("g", *g), ("i", &i.to_string())]), ts, vs).unwrap();
        }
        s.push("other", Labels::new([("g", "a")]), vec![1], vec![9.0]).unwrap();
        s
    }

    fn read_parts(dir: &Path, part_samples: usize, batch_rows: usize) -> Vec<MetricStore> {
        let group = |l: &Labels| match l.get("g")? {
            "x" => None,
            g => Some(u64::from(g.as_bytes()[0])),
        };
        let mut plan = PartPlan::new(dir, dir, "m", None, group, part_samples).unwrap();
        plan.batch_rows = batch_rows;
        assert_eq!(plan.series(), 11, "the series of group x are not read");
        let mut parts = Vec::new();
        plan.read(|p| parts.push(p)).unwrap();
        parts
    }

    #[test]
    fn parts_hold_whole_groups_and_every_sample_once() {
        let dir = tempfile::tempdir().unwrap();
        let original = grouped_store();
        write_metrics(&original, dir.path()).unwrap();
        let expected: Vec<&crate::model::series::Series> =
            original.metric("m").filter(|s| s.labels.get("g") != Some("x")).collect();
        for (part_samples, batch_rows) in
            [(1, 1), (1, 3), (4, 2), (7, 1000), (1000, 4), (usize::MAX, 1 << 20)]
        {
            let parts = read_parts(dir.path(), part_samples, batch_rows);
            // Every wanted series once, in file order, with its values and axis.
            let got: Vec<&crate::model::series::Series> = parts.iter().flat_map(MetricStore::all).collect();
            assert_eq!(got.len(), expected.len());
            for (a, b) in expected.iter().zip(&got) {
                assert_eq!(
                    (&a.labels, &a.timestamps, bits(&a.values)),
                    (&b.labels, &b.timestamps, bits(&b.values))
                );
            }
            // No group in two parts.
            let mut seen: HashMap<String, usize> = HashMap::new();
            for (k, p) in parts.iter().enumerate() {
                for s in p.all() {
                    let g = s.labels.get("g").unwrap().to_string();
                    assert_eq!(
                        *seen.entry(g.clone()).or_insert(k),
                        k,
                        "group {g} split ({part_samples}, {batch_rows})"
                    );
                }
            }
            if part_samples == usize::MAX {
                assert_eq!(parts.len(), 1);
            }
        }
        // With one sample per part, parts end where every group seen so far is complete:
        // after a b a b, c c, d d (x) d, e e.
        let sizes: Vec<usize> = read_parts(dir.path(), 1, 1).iter().map(MetricStore::len).collect();
        assert_eq!(sizes, [4, 2, 3, 2], "{sizes:?}");
        let sizes: Vec<usize> = read_parts(dir.path(), 8, 2).iter().map(MetricStore::len).collect();
        assert_eq!(sizes, [4, 5, 2], "{sizes:?}");
    }

    #[test]
    fn a_part_plan_names_a_short_values_file() {
        let dir = tempfile::tempdir().unwrap();
        write_metrics(&grouped_store(), dir.path()).unwrap();
        let path = dir.path().join(VALUES_DIR).join("m.parquet");
        let mut df = DataFrame::new(2, vec![Column::new("value".into(), vec![1.0f64, 2.0])]).unwrap();
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut df).unwrap();
        let plan = PartPlan::new(dir.path(), dir.path(), "m", None, |_| Some(1), 1).unwrap();
        let err = plan.read(|_| {}).unwrap_err().to_string();
        assert!(err.contains("m.parquet") && err.contains("rows"), "{err}");
    }

    #[test]
    fn names_that_differ_get_different_files() {
        assert_eq!(
            values_file("container_cpu_usage_seconds_total"),
            "container_cpu_usage_seconds_total.parquet"
        );
        assert_ne!(values_file("http.requests"), values_file("http_requests"));
        assert_ne!(values_file("a/b"), values_file("a.b"));
        assert!(values_file("../x").starts_with("___x-"), "no path of its own");
    }

    #[test]
    fn a_series_pointing_past_its_values_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_metrics(&store(), dir.path()).unwrap();
        // Replace m's values with a shorter column.
        let path = dir.path().join(VALUES_DIR).join("m.parquet");
        let mut df = DataFrame::new(2, vec![Column::new("value".into(), vec![1.0f64, 2.0])]).unwrap();
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut df).unwrap();
        let err = read_metrics(dir.path(), dir.path(), None, None, 1, &mut MetricStore::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.parquet") && err.contains("rows"), "{err}");
    }
}
